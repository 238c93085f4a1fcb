// libFuzzer target: the HTTP pieces (response headers, URLs, the redirect policy)
// and the chunked decoder on arbitrary bytes (it must never crash and
// never grow the body), and on a valid encoding of those bytes cut into chunks of
// sizes taken from the input (it must give the bytes back).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "controller/marathon/http_chunked.h"
#include "controller/marathon/http_message.h"

namespace {

std::string encode(const std::string& data, const uint8_t* sizes, size_t n_sizes) {
  std::string out;
  size_t pos = 0;
  for (size_t i = 0; pos < data.size(); ++i) {
    const size_t want = n_sizes == 0 ? data.size() : size_t{sizes[i % n_sizes]} + 1;
    const size_t len = std::min(want, data.size() - pos);
    char head[32];
    std::snprintf(head, sizeof head, i % 2 ? "%zX;ext=1\r\n" : "%zx\r\n", len);
    out.append(head).append(data, pos, len).append("\r\n");
    pos += len;
  }
  return out + "0\r\n\r\n";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::string body = input;
  if (mlb::controller::decodeChunkedInPlace(body).has_value() && body.size() > input.size()) {
    __builtin_trap();
  }
  // Header lookup, URLs and the redirect policy are total too: any bytes, no crash.
  (void)mlb::controller::responseHeader(input, "location");
  (void)mlb::controller::responseHeader(input, "transfer-encoding");
  (void)mlb::controller::parseUrl(input);
  (void)mlb::controller::planRedirect("https://m1:8443", input, {input, "http://m2:8080"});
  std::string encoded = encode(input, data, size < 4 ? size : 4);
  if (!mlb::controller::decodeChunkedInPlace(encoded).has_value() || encoded != input) {
    __builtin_trap();
  }
  return 0;
}
