#pragma once
// Leveled key=value logging to stderr, one line per call. Thread-safe.
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace mlb::common {

enum class LogLevel { Debug, Info, Warn, Error };

using LogField = std::pair<std::string_view, std::string>;

// Writes `ts=... level=... msg="..." k=v ...`. Values with spaces or quotes are quoted.
void log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields = {});
void setLogLevel(LogLevel level);
// The current UTC time as "2026-11-21T13:20:07Z" (for status files and manifests).
std::string isoTimeNow();

inline void logInfo(std::string_view m, std::initializer_list<LogField> f = {}) {
  log(LogLevel::Info, m, f);
}
inline void logWarn(std::string_view m, std::initializer_list<LogField> f = {}) {
  log(LogLevel::Warn, m, f);
}
inline void logError(std::string_view m, std::initializer_list<LogField> f = {}) {
  log(LogLevel::Error, m, f);
}

}  // namespace mlb::common
