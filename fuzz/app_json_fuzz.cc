// libFuzzer target: the /v2/apps parser on arbitrary bytes (with simdjson's padding).
#include <cstddef>
#include <cstdint>
#include <string>

#include "controller/marathon/app_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string body;
  body.reserve(size + mlb::controller::kJsonPadding);
  body.assign(reinterpret_cast<const char*>(data), size);
  auto parsed = mlb::controller::parseApps(body);
  if (parsed) {
    for (const auto& app : parsed->apps) {
      (void)app.id.size();
    }
  }
  (void)mlb::controller::parseSingleApp(body);
  return 0;
}
