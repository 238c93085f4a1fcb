#include "controller/publish/endpoints_lua.h"

namespace mlb::controller {

extern const char* const kEndpointsLua;  // generated from mlb.lua (cmake/embed_text.cmake)

const std::string& endpointsLua() {
  static const std::string kText = kEndpointsLua;
  return kText;
}

}  // namespace mlb::controller
