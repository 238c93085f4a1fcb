#pragma once
// A lean HTTP/1.1 GET over Boost.Asio (TLS optional) that reads the body straight
// into one std::string with spare capacity for the JSON parser. Used for the bulk
// GET /v2/apps answer (20-30 MB at 5000 apps), where cpprestsdk's buffered streams
// cost about 4x the transfer itself on these machines. Handles Content-Length,
// chunked and close-delimited bodies. Thread-compatible (no shared state).
#include <chrono>
#include <string>
#include <vector>

#include "common/result.h"

namespace mlb::controller {

struct HttpGetOptions {
  std::chrono::milliseconds timeout{10000};  // the whole exchange
  std::string ca_cert;
  bool insecure_tls = false;
  size_t spare_capacity = 64;  // extra capacity reserved after the body
  size_t max_body = size_t{1} << 31;
};

struct HttpGetResponse {
  int status = 0;
  std::string location;  // for 3xx
  std::string body;
};

// GET base_url + target with the given extra header lines ("Name: value").
common::Result<HttpGetResponse> asioHttpGet(const std::string& base_url, const std::string& target,
                                            const std::vector<std::string>& headers,
                                            const HttpGetOptions& options);

}  // namespace mlb::controller
