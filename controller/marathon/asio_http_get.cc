// Boost 1.74's Asio misses <utility> under C++20.
#include <utility>
// clang-format off
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
// clang-format on

#include <charconv>
#include <cstdlib>
#include <functional>
#include <optional>
#include <vector>

#include "common/strings.h"
#include "controller/marathon/asio_http_get.h"
#include "controller/marathon/asio_tls.h"
#include "controller/marathon/http_chunked.h"
#include "controller/marathon/sse_event_stream.h"

namespace mlb::controller {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using common::Error;

// host:port as an endpoint when host is an IPv4 or IPv6 literal.
std::optional<tcp::endpoint> literalEndpoint(const std::string& host, const std::string& port) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  unsigned value = 0;
  const auto [end, perr] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec || perr != std::errc() || end != port.data() + port.size() || value == 0 ||
      value > 65535) {
    return std::nullopt;
  }
  return tcp::endpoint(address, static_cast<unsigned short>(value));
}

}  // namespace

common::Result<HttpGetResponse> asioHttpGet(const std::string& base_url, const std::string& target,
                                            const std::vector<std::string>& headers,
                                            const HttpGetOptions& options) {
  ParsedUrl u;
  if (!parseUrl(base_url, u)) {
    return Error::invalidArgument("bad URL " + base_url);
  }
  std::string path = u.target;
  while (!path.empty() && path.back() == '/') {
    path.pop_back();
  }
  path += target;
  asio::io_context io;
  std::optional<asio::ssl::context> tls_ctx;
  if (u.tls) {
    tls_ctx.emplace(asio::ssl::context::tls_client);
    configureTlsClient(*tls_ctx, options.insecure_tls, options.ca_cert);
  }
  asio::ssl::stream<tcp::socket> stream(io, u.tls ? *tls_ctx : plainConnectionContext());
  tcp::socket& sock = stream.next_layer();
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  bool timed_out = false;
  asio::steady_timer timer(io);
  timer.expires_at(deadline);
  timer.async_wait([&](const boost::system::error_code& e) {
    if (!e) {
      timed_out = true;
      boost::system::error_code ignored;
      sock.close(ignored);
    }
  });

  HttpGetResponse resp;
  std::string error;
  std::string head;
  char buf[1 << 16];
  size_t content_length = std::string::npos;
  bool chunked = false;

  tcp::resolver resolver(io);
  auto fail = [&](const std::string& what, const boost::system::error_code& e) {
    error = what + ": " + (timed_out ? std::string("timed out") : e.message());
    timer.cancel();
  };
  // The exchange as a chain of async steps on one thread; io.run() returns when done.
  std::function<void()> read_head, read_body;
  auto async_read = [&](auto handler) {
    if (u.tls) {
      stream.async_read_some(asio::buffer(buf), handler);
    } else {
      sock.async_read_some(asio::buffer(buf), handler);
    }
  };
  std::string raw;  // body bytes as received (decoded below when chunked)
  read_body = [&] {
    async_read([&](const boost::system::error_code& e, size_t n) {
      if (n > 0) {
        raw.append(buf, n);
        if (raw.size() > options.max_body) {
          error = "answer larger than " + std::to_string(options.max_body) + " bytes";
          timer.cancel();
          return;
        }
      }
      if (e) {
        if (e == asio::error::eof || e == asio::ssl::error::stream_truncated) {
          timer.cancel();  // close-delimited body complete
        } else {
          fail("read body from " + base_url, e);
        }
        return;
      }
      if (content_length != std::string::npos && raw.size() >= content_length) {
        timer.cancel();
        return;
      }
      if (chunked && raw.size() >= 5 && raw.compare(raw.size() - 5, 5, "0\r\n\r\n") == 0) {
        timer.cancel();
        return;
      }
      read_body();
    });
  };
  read_head = [&] {
    async_read([&](const boost::system::error_code& e, size_t n) {
      if (n > 0) {
        head.append(buf, n);
      }
      size_t end = head.find("\r\n\r\n");
      if (end == std::string::npos) {
        if (e || head.size() > 65536) {
          fail("read response headers from " + base_url, e);
          return;
        }
        read_head();
        return;
      }
      resp.status = std::atoi(head.c_str() + head.find(' ') + 1);
      const std::string_view fields = std::string_view(head).substr(0, end);
      if (const std::string v = responseHeader(fields, "content-length"); !v.empty()) {
        content_length = std::strtoull(v.c_str(), nullptr, 10);
      }
      chunked = common::toLower(responseHeader(fields, "transfer-encoding")).find("chunked") !=
                std::string::npos;
      resp.location = responseHeader(fields, "location");
      // Content-Length is the peer's word: reserve no more than an answer may hold.
      const size_t expect =
          content_length != std::string::npos ? std::min(content_length, options.max_body) : 0;
      raw.reserve(std::max(expect, size_t{1} << 20) + options.spare_capacity);
      raw.append(head, end + 4, std::string::npos);
      if ((content_length != std::string::npos && raw.size() >= content_length) ||
          (e && raw.size() > 0)) {
        timer.cancel();
        return;
      }
      if (e) {
        fail("read body from " + base_url, e);
        return;
      }
      read_body();
    });
  };
  std::string request = "GET " + path + " HTTP/1.1\r\nHost: " + u.host + ":" + u.port +
                        "\r\nAccept: application/json\r\nConnection: close\r\n";
  for (const auto& h : headers) {
    request += h + "\r\n";
  }
  request += "\r\n";
  auto on_connected = [&] {
    auto write_done = [&](const boost::system::error_code& e, size_t) {
      if (e) {
        fail("send request to " + base_url, e);
        return;
      }
      read_head();
    };
    if (u.tls) {
      asio::async_write(stream, asio::buffer(request), write_done);
    } else {
      asio::async_write(sock, asio::buffer(request), write_done);
    }
  };
  auto connect_to = [&](const auto& endpoints) {
    asio::async_connect(sock, endpoints,
                        [&](const boost::system::error_code& ce, const tcp::endpoint&) {
                          if (ce) {
                            fail("connect " + base_url, ce);
                            return;
                          }
                          if (!u.tls) {
                            on_connected();
                            return;
                          }
                          prepareTlsStream(stream, u.host, options.insecure_tls);
                          stream.async_handshake(asio::ssl::stream_base::client,
                                                 [&](const boost::system::error_code& he) {
                                                   if (he) {
                                                     fail("TLS handshake with " + base_url, he);
                                                     return;
                                                   }
                                                   on_connected();
                                                 });
                        });
  };
  // An address literal needs no resolver (whose first use spawns a thread per
  // io_context: per request here).
  if (auto literal = literalEndpoint(u.host, u.port)) {
    connect_to(std::vector<tcp::endpoint>{*literal});
  } else {
    resolver.async_resolve(
        u.host, u.port,
        [&](const boost::system::error_code& e, const tcp::resolver::results_type& results) {
          if (e) {
            fail("resolve " + u.host, e);
            return;
          }
          connect_to(results);
        });
  }
  try {
    io.run();
  } catch (const std::exception& e) {
    return Error{common::ErrorCode::Unavailable, base_url + ": " + e.what()};
  }
  if (timed_out && error.empty()) {
    error =
        base_url + ": no complete answer within " + std::to_string(options.timeout.count()) + " ms";
  }
  if (!error.empty()) {
    return Error{common::ErrorCode::Unavailable, error};
  }
  if (content_length != std::string::npos && raw.size() < content_length) {
    return Error{common::ErrorCode::Unavailable, base_url + ": answer truncated (" +
                                                     std::to_string(raw.size()) + " of " +
                                                     std::to_string(content_length) + " bytes)"};
  }
  if (!chunked) {
    if (content_length != std::string::npos && raw.size() > content_length) {
      raw.resize(content_length);
    }
    resp.body = std::move(raw);
    return resp;
  }
  if (common::Status st = decodeChunkedInPlace(raw); !st) {
    return Error::invalidData(base_url + ": " + st.error().message);
  }
  resp.body = std::move(raw);
  return resp;
}

}  // namespace mlb::controller
