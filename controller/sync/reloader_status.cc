#include "controller/sync/reloader_status.h"

#include <nlohmann/json.hpp>

namespace mlb::controller {
namespace {

std::string stringField(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

common::Result<ReloaderStatus> parseReloaderStatus(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return common::Error::invalidData("status.json is not a JSON object");
  }
  ReloaderStatus status;
  status.applied_version = stringField(j, "applied_version");
  status.kind = stringField(j, "reload_kind");
  if (auto n = j.find("runtime_commands"); n != j.end() && n->is_number_integer()) {
    status.runtime_commands = n->get<long>();
  }
  auto rejected = j.find("rejected");
  if (rejected == j.end() || !rejected->is_object()) {
    return status;
  }
  for (const auto& [version, entry] : rejected->items()) {
    status.rejected[version] = entry.is_object() ? stringField(entry, "reason") : std::string();
  }
  return status;
}

}  // namespace mlb::controller
