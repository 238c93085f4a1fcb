// The real edges of `mlb deploy`: cpprestsdk for HTTP, steady_clock, getaddrinfo.
#include <arpa/inet.h>
#include <cpprest/http_client.h>
#include <netdb.h>
#include <sys/socket.h>

#include <chrono>
#include <set>
#include <thread>

#include "cli/deploy/deploy_io.h"

namespace mlb::cli::deploy {
namespace {

using web::http::http_request;
using web::http::client::http_client;
using web::http::client::http_client_config;

class RestHttpClient : public HttpClient {
 public:
  RestHttpClient(int timeout_ms, TlsOptions tls) : timeout_ms_(timeout_ms), tls_(std::move(tls)) {}

  common::Result<HttpReply> request(const std::string& method, const std::string& url,
                                    const std::string& body,
                                    const std::string& authorization) override {
    try {
      web::uri uri(utility::conversions::to_string_t(url));
      web::uri_builder base;
      base.set_scheme(uri.scheme()).set_host(uri.host()).set_port(uri.port());
      http_client client(base.to_uri(), config());
      http_request req(utility::conversions::to_string_t(method));
      req.set_request_uri(uri.resource());
      if (!authorization.empty()) {
        req.headers().add(U("Authorization"), utility::conversions::to_string_t(authorization));
      }
      if (!body.empty()) {
        req.set_body(body, "application/json");
      }
      auto resp = client.request(req).get();
      return HttpReply{resp.status_code(), resp.extract_utf8string(true).get()};
    } catch (const std::exception& e) {
      return common::Error{common::ErrorCode::Unavailable, method + " " + url + ": " + e.what()};
    }
  }

 private:
  http_client_config config() const {
    http_client_config cfg;
    cfg.set_timeout(std::chrono::milliseconds(timeout_ms_));
    cfg.set_validate_certificates(!tls_.insecure);
    if (!tls_.ca_cert.empty()) {
      std::string ca = tls_.ca_cert;
      cfg.set_ssl_context_callback(
          [ca](boost::asio::ssl::context& ctx) { ctx.load_verify_file(ca); });
    }
    return cfg;
  }

  int timeout_ms_;
  TlsOptions tls_;
};

class SystemClock : public Clock {
 public:
  double now() override {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  void sleep(double seconds) override {
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  }
};

}  // namespace

HttpClientPtr makeRestHttpClient(int timeout_ms, TlsOptions tls) {
  return std::make_unique<RestHttpClient>(timeout_ms, std::move(tls));
}

std::unique_ptr<Clock> makeSystemClock() { return std::make_unique<SystemClock>(); }

std::vector<std::string> resolveEveryAddress(const std::string& url) {
  web::uri uri;
  try {
    uri = web::uri(utility::conversions::to_string_t(url));
  } catch (const std::exception&) {
    return {url};
  }
  const std::string host = utility::conversions::to_utf8string(uri.host());
  in_addr probe{};
  if (host.empty() || ::inet_pton(AF_INET, host.c_str(), &probe) == 1) {
    return {url};
  }
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || res == nullptr) {
    return {};
  }
  std::set<std::string> addresses;
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    char text[INET_ADDRSTRLEN] = {};
    const auto* sin = reinterpret_cast<const sockaddr_in*>(a->ai_addr);
    if (::inet_ntop(AF_INET, &sin->sin_addr, text, sizeof text) != nullptr) {
      addresses.insert(text);
    }
  }
  ::freeaddrinfo(res);
  std::vector<std::string> out;
  for (const auto& address : addresses) {
    web::uri_builder b(uri);
    b.set_host(utility::conversions::to_string_t(address));
    out.push_back(utility::conversions::to_utf8string(b.to_string()));
  }
  return out;
}

}  // namespace mlb::cli::deploy
