#pragma once
// Pure: maps the [ALERT] lines HAProxy printed for a configuration back to the apps
// that own the offending lines, through the byte spans the renderer recorded. Used
// for the controller's own `haproxy -c` and for the reloader's rejections alike.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/haproxy/config_check.h"
#include "controller/render/config_renderer.h"

namespace mlb::controller {

struct Attribution {
  std::map<std::string, std::string> apps;  // app id -> the first [ALERT] line it owns
  std::string unattributed;                 // the first alert no app owns ("" when none)
};

// The span holding byte `offset` of the config, or null (a global part). `spans` are
// in config order and do not overlap.
const RenderedConfig::Span* spanAtOffset(const std::vector<RenderedConfig::Span>& spans,
                                         size_t offset);

// Attributes every alert of `output` for `config` (the text HAProxy checked; same line
// numbers). An alert with a line number belongs to the span holding that line; one
// without (a proxy-level alert: "Proxy 'x': ...") to the span holding the section of a
// proxy it names in quotes. Summary lines ("Fatal errors found") are ignored.
Attribution attributeAlerts(const std::string& output, const std::string& config,
                            const std::vector<RenderedConfig::Span>& spans);

}  // namespace mlb::controller
