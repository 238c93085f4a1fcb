#pragma once
// `mlb render`: render haproxy.cfg from a saved /v2/apps answer, offline.
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

namespace mlb::cli {

// Runs `mlb render` with argv-style arguments (without "mlb render"). Writes
// DIR/haproxy.cfg, DIR/domain2backend.map and DIR/app2backend.map. Quarantined
// apps are reported on `err` and do not fail the command. Returns the exit code:
// 0 success, 2 bad flags, 1 unreadable or malformed input / templates.
// With `keep`, what the rendering allocated (the mapped answer, apps, model, config)
// is moved there instead of being freed: `mlb render` never frees it, as a one-shot
// process leaves its memory to the kernel (freeing it took ~6 ms of ~125 at 5000 apps).
struct RenderMemory;
RenderMemory* newRenderMemory();
int runRender(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
              std::ostream& out, std::ostream& err, RenderMemory* keep = nullptr);

}  // namespace mlb::cli
