#pragma once
// The edges `mlb deploy` crosses: HTTP (Marathon and the load balancers), time, and
// name resolution. Real implementations in rest_http_client.cc; fakes in the tests.
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

namespace mlb::cli::deploy {

struct HttpReply {
  int status = 0;
  std::string body;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // One request. Error only when no answer came (connect, TLS, timeout); any HTTP
  // status is a reply. `authorization` is sent as the Authorization header unless "".
  virtual common::Result<HttpReply> request(const std::string& method, const std::string& url,
                                            const std::string& body,
                                            const std::string& authorization) = 0;
};
using HttpClientPtr = std::unique_ptr<HttpClient>;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual double now() = 0;  // seconds, monotonic
  virtual void sleep(double seconds) = 0;
};

struct TlsOptions {
  std::string ca_cert;  // PEM file trusted for https URLs ("" : the system's)
  bool insecure = false;
};

// cpprestsdk: every request bounded by `timeout_ms`.
HttpClientPtr makeRestHttpClient(int timeout_ms, TlsOptions tls);
// steady_clock and sleep_for.
std::unique_ptr<Clock> makeSystemClock();
// marathon-lb's `-l http://name:9090`: one URL per IPv4 address `name` resolves to
// (getaddrinfo); the URL itself when it is an address; none when it does not resolve.
std::vector<std::string> resolveEveryAddress(const std::string& url);

}  // namespace mlb::cli::deploy
