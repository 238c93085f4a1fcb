#pragma once
// Pure parser for Marathon's GET /v2/apps?embed=apps.tasks answer.
#include <string>
#include <string_view>

#include "common/result.h"
#include "controller/model/marathon_app.h"

namespace mlb::controller {

// Extra bytes a caller may reserve after the body (std::string::reserve) so that
// parseApps() can read the body in place without copying it.
inline constexpr size_t kJsonPadding = 64;

// Parses a /v2/apps answer (Marathon <= 1.4 and >= 1.5 shapes; null and missing
// optional fields alike). A body that is not JSON or not {"apps": [...]} is an
// Error; an app whose fields have the wrong types is listed in `skipped` with the
// reason and the other apps are still returned. Apps come back sorted by id; when
// two apps share an id the first one wins and the second is skipped.
// Thread-safe (no shared state).
common::Result<ParsedApps> parseApps(const std::string& body);
// The same for a body in a caller's buffer of `capacity` bytes (read in place when
// capacity >= body.size() + kJsonPadding, else copied).
common::Result<ParsedApps> parseApps(std::string_view body, size_t capacity);

// Parses {"app": {...}} (GET /v2/apps/<id>) into one app.
common::Result<MarathonApp> parseSingleApp(const std::string& body);

}  // namespace mlb::controller
