#pragma once
// TLS set-up of the Boost.Asio connection to Marathon (http_connection.cc), the core
// of the bulk GET and the event stream. Internal to the transport library.
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <string>

namespace mlb::controller {

// A client context that verifies the peer against `ca_cert` (or the system's CAs
// when empty), unless `insecure`.
inline void configureTlsClient(boost::asio::ssl::context& ctx, bool insecure,
                               const std::string& ca_cert) {
  if (insecure) {
    ctx.set_verify_mode(boost::asio::ssl::verify_none);
    return;
  }
  ctx.set_verify_mode(boost::asio::ssl::verify_peer);
  boost::system::error_code ec;  // a missing CA file shows up as a failed handshake
  if (!ca_cert.empty()) {
    ctx.load_verify_file(ca_cert, ec);
  } else {
    ctx.set_default_verify_paths(ec);
  }
}

// The context of a plain-HTTP connection: never configured nor used for TLS, but
// asio's stream needs one, and a new SSL_CTX per request cost more CPU than the rest
// of a one-app fetch. Shared (OpenSSL contexts are thread-safe once set up). A TLS
// connection makes its own context, so that a replaced CA file is read again.
inline boost::asio::ssl::context& plainConnectionContext() {
  static boost::asio::ssl::context ctx(boost::asio::ssl::context::tls_client);
  return ctx;
}

// Before the handshake: SNI for `host`, and, unless `insecure`, a certificate that
// must name `host`.
inline void prepareTlsStream(boost::asio::ssl::stream<boost::asio::ip::tcp::socket>& stream,
                             const std::string& host, bool insecure) {
  SSL_set_tlsext_host_name(stream.native_handle(), host.c_str());
  if (!insecure) {
    stream.set_verify_callback(boost::asio::ssl::host_name_verification(host));
  }
}

}  // namespace mlb::controller
