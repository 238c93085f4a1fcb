#pragma once
// The one network edge of `mlb` (which stays free of cpprestsdk, Boost and OpenSSL):
// a plain-HTTP/1.1 GET with `Connection: close`, for `mlb lint --marathon URL`.
// https is refused with the advice to save the answer with curl.
#include <functional>
#include <string>

#include "common/result.h"

namespace mlb::cli {

struct HttpGetReply {
  int status = 0;
  std::string body;  // de-chunked
};

// GET `url` ("http://host:port/path"), the whole exchange within `timeout_ms`; the
// body at most `max_body` bytes. Error for https, an unreachable host, a timeout, or
// an answer that is not HTTP/1.x.
common::Result<HttpGetReply> plainHttpGet(const std::string& url, int timeout_ms,
                                          size_t max_body = size_t{512} << 20);

// How `mlb lint` fetches (tests pass a fake).
using HttpGetFn = std::function<common::Result<HttpGetReply>(const std::string& url)>;

}  // namespace mlb::cli
