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
// From now on every line is also sent, as a syslog message (facility user, tag
// `tag`), to the unix datagram socket at `path` (marathon-lb's --syslog-socket; the
// default "/dev/null" sends nothing, and stops an earlier socket). Best effort: a full or gone
// socket drops the message, never blocks. Error when the socket cannot be reached at all.
bool logToSyslogSocket(const std::string& path, const std::string& tag, std::string& error);
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
