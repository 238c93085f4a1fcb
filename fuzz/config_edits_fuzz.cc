// libFuzzer target: a bundle's haproxy.cfg.edits (written by the controller, read by
// the reloader from the shared volume) on arbitrary bytes, applied to an arbitrary base.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/fs/config_edits.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view all(reinterpret_cast<const char*>(data), size);
  const size_t cut = size == 0 ? 0 : data[0] % (size + 1);
  const std::string_view base = all.substr(0, cut);
  auto edits = mlb::common::parseConfigEdits(all.substr(cut));
  if (!edits) {
    return 0;
  }
  auto text = mlb::common::applyConfigEdits(base, *edits);
  // What parses formats back to the same bytes.
  if (mlb::common::formatConfigEdits(*edits) != all.substr(cut)) {
    std::abort();
  }
  (void)text;
  return 0;
}
