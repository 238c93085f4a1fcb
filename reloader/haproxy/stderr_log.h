#pragma once
// HAProxy 2.6 says why a reload failed only on its master's stderr: `show proc` counts
// "failed 1" and its master CLI has no startup logs (2.7's `reload` answers with them).
// The entrypoint puts a keeper process between HAProxy's stderr and its own: every line
// still reaches the container's output, and HAProxy's own messages ([ALERT], [WARNING],
// [NOTICE]; not request logs sent to stderr) are appended to `<state>/haproxy.stderr`
// (one older file kept at `.1` past the size bound), where the watcher reads the
// [ALERT] lines of a failed reload so that the controller can name the app.
#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "common/result.h"

namespace mlb::reloader {

std::string stderrLogPath(const std::string& state_dir);

// Makes fd 2 a pipe to a keeper process that copies what it reads to the former fd 2
// and appends HAProxy's own whole lines to `path`, moving it to `path.1` past
// `max_bytes`. The keeper is detached (its own session; adopted by the nearest
// subreaper or pid 1 — mlb-run in the image, which reaps it) and ends when the last
// writer closes. An error (no pipe, no keeper) leaves fd 2 as it was.
common::Status keepStderr(const std::string& path, size_t max_bytes);

// Where a log ends now; readSince returns what was appended after it (when it was
// moved aside since: the rest of `.1`, then the new file), at most `max_bytes` of its
// end.
struct LogMark {
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
};
LogMark markLog(const std::string& path);
std::string readSince(const std::string& path, const LogMark& mark, size_t max_bytes);

// The [ALERT] lines HAProxy process `pid` wrote in `text`, joined by newlines. Pure.
std::string alertsOf(std::string_view text, pid_t pid);
// Whether `text` holds the line by which process `pid` ends a failed load. Pure.
bool loadFailureOf(std::string_view text, pid_t pid);

}  // namespace mlb::reloader
