#pragma once
// HAProxy's master CLI (-S <socket>): one command per connection, and the pure
// parser of `show proc`.
#include <sys/types.h>

#include <string>
#include <vector>

#include "common/result.h"

namespace mlb::reloader {

// Sends `command` to the unix socket and returns everything read until the master
// closes the connection. Error on connect failure or timeout.
common::Result<std::string> masterCommand(const std::string& socket_path,
                                          const std::string& command, int timeout_ms = 3000);

struct ProcEntry {
  pid_t pid = 0;
  int reloads = 0;     // for workers: how many reloads ago this worker was started
  std::string uptime;  // e.g. "0d00h01m02s"
  long uptime_seconds = 0;
  std::string version;
};

struct ShowProc {
  pid_t master_pid = 0;
  int master_reloads = 0;
  int master_failed = 0;               // "[failed: N]" (HAProxy >= 2.5)
  std::vector<ProcEntry> workers;      // the current generation
  std::vector<ProcEntry> old_workers;  // previous generations still draining
};

// Parses `show proc` output. Error when no master line is found.
common::Result<ShowProc> parseShowProc(const std::string& text);

}  // namespace mlb::reloader
