#pragma once
// HAProxy's master CLI (-S <socket>): one command per connection, and the pure
// parser of `show proc`.
#include <sys/types.h>

#include <string>
#include <vector>

#include "common/result.h"

namespace mlb::reloader {

// Sends `command` to the unix socket and returns everything read until the master
// closes the connection. ErrorCode::Unavailable when the command never reached the
// master (no socket, connect or send failed); ErrorCode::Io when it was sent and no
// complete answer came in time.
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

// HAProxy's two unix sockets as the reload pass talks to them: the master CLI and the
// stats socket (Runtime API). The real one is unixSockets(); tests answer as HAProxy.
class HaproxySockets {
 public:
  virtual ~HaproxySockets() = default;
  // One command, the whole answer (masterCommand's contract).
  virtual common::Result<std::string> command(const std::string& socket_path,
                                              const std::string& command, int timeout_ms) = 0;
  // Several commands on one connection, one answer each (runtime_cli.h runBatch).
  virtual common::Result<std::vector<std::string>> batch(const std::string& socket_path,
                                                         const std::vector<std::string>& commands,
                                                         int timeout_ms) = 0;
};
HaproxySockets& unixSockets();

// The reply to the master CLI's `reload`: HAProxy 2.6 answers nothing (the reload is
// asynchronous: show proc tells the outcome); from 2.7 (3.0 here) it answers once the
// new worker is ready or has failed: "Success=1" or "Success=0", then "--" and the
// startup messages.
struct ReloadReply {
  enum class Status { kUnknown, kSucceeded, kFailed };
  Status status = Status::kUnknown;
  std::string log;  // the startup messages ([ALERT] lines when it failed)
};
ReloadReply parseReloadReply(const std::string& text);

// Parses `show proc` output. Error when no master line is found.
common::Result<ShowProc> parseShowProc(const std::string& text);

}  // namespace mlb::reloader
