#pragma once
// The reloader's answers as the controller reads them from <state>/status.json
// (the bundle protocol's ACK/NACK): the version it applied last and the versions it
// rejected, each with HAProxy's [ALERT] lines. Pure and total: any text, however
// foreign or malformed, is either a ReloaderStatus or an Error value.
#include <map>
#include <string>

#include "common/result.h"

namespace mlb::controller {

struct ReloaderStatus {
  std::string applied_version;                  // "" when none
  std::map<std::string, std::string> rejected;  // version -> reason ([ALERT] lines)
  std::string kind;  // how applied_version went live: "runtime", "reload", "startup"
  long runtime_commands = 0;

  bool operator==(const ReloaderStatus&) const = default;
};

// Parses status.json. Fields of the wrong type count as absent (another writer's
// version of the file must not stop the controller); text that is not a JSON object
// is an Error.
common::Result<ReloaderStatus> parseReloaderStatus(const std::string& text);

}  // namespace mlb::controller
