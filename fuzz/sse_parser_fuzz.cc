// libFuzzer target: the SSE parser on arbitrary bytes, split at an arbitrary point.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "controller/marathon/sse_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view all(reinterpret_cast<const char*>(data), size);
  size_t cut = size == 0 ? 0 : data[0] % (size + 1);
  mlb::controller::SseParser parser(4096);
  size_t events = 0;
  auto on = [&](mlb::controller::SseEvent&& e) { events += 1 + e.data.size(); };
  parser.feed(all.substr(0, cut), on);
  parser.feed(all.substr(cut), on);
  (void)mlb::controller::splitJsonDocuments(all);
  return 0;
}
