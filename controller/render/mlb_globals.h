#pragma once
// What mlb needs in HAProxy's global section whatever the templates say: its stats
// socket (`<state>/stats.sock`, level admin, expose-fd listeners: the Runtime API, the
// `-x` socket transfer of a handover, the stats endpoints) and the server-state file
// the reloader writes before a reload. A user's HAPROXY_HEAD (marathon-lb's own puts
// `stats socket /var/run/haproxy/socket`) used to drop them silently.
#include <string>

#include "common/result.h"

namespace mlb::controller {

// The rendered HAPROXY_HEAD with what is missing added at the top of its global
// section; an error naming the line when the head has no global section, or declares
// mlb's socket without `level admin` or `expose-fd listeners`. Pure.
common::Result<std::string> withMlbGlobals(const std::string& head, const std::string& state_dir);

// The rendered HAPROXY_HEAD with the target of every `log` line of its global section
// replaced by `target`; the facility and level are kept. "stdout" and "stderr" get
// `format raw` (HAProxy needs it there) and only the first `log` line: marathon-lb's
// second line (local1 notice) would print every notice twice on the one stream. Pure.
std::string withLogTarget(const std::string& head, const std::string& target);

}  // namespace mlb::controller
