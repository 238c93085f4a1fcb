#pragma once
// The Lua service the default HEAD loads from <haproxy dir>/mlb.lua: it answers
// marathon-lb's /_haproxy_get* endpoints on :9090 by asking mlb-reloader (:9103).
// Every bundle (and `mlb render`'s output directory) holds this file. Its text is
// controller/publish/mlb.lua, compiled in.
#include <string>

namespace mlb::controller {

const std::string& endpointsLua();

}  // namespace mlb::controller
