#pragma once
// HAProxy's Runtime API over the stats socket (`stats socket ... level admin`): one
// batch of `;`-separated commands per connection, each reply matched to its command,
// and the pure parsers of `show servers state` and `show stat`.
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "reloader/haproxy/runtime_plan.h"

namespace mlb::reloader {

// The replies of a `;`-separated batch, one per command (HAProxy ends each with an
// empty line; the last may end at the close instead). Pure.
std::vector<std::string> splitBatchReplies(const std::string& output);

// Ok when every reply is what its command must answer ("New server registered." for
// an add, nothing for the others); else the error names the first command and its reply.
common::Status checkReplies(const std::vector<std::string>& commands,
                            const std::vector<RuntimePlan::Expect>& expect,
                            const std::vector<std::string>& replies);

// Sends one batch and returns its replies. Error when the socket cannot be used.
common::Result<std::vector<std::string>> runBatch(const std::string& socket_path,
                                                  const std::vector<std::string>& commands,
                                                  int timeout_ms = 5000);

// One line of `show servers state`.
struct RuntimeServer {
  int backend_id =
      0;  // the backend's numeric id (`show stat <id>`: a name may also be a frontend's)
  std::string address;                                      // "ip:port"
  int op_state = 0;                                         // 0 stopped, 2 running ...
  int admin_state = 0;                                      // bit 0x01 forced maint, 0x08 drain ...
  int weight = 0;                                           // the user weight
  bool maint() const { return (admin_state & 0x23) != 0; }  // forced, inherited, resolution
  bool drain() const { return (admin_state & 0x08) != 0; }
};
// (backend, server) -> state, from `show servers state`. Pure; unreadable lines skipped.
std::map<std::pair<std::string, std::string>, RuntimeServer> parseServersState(
    const std::string& text);

// (backend, server) -> current sessions + queued, from `show stat` (CSV). Pure.
std::map<std::pair<std::string, std::string>, long> parseServerLoad(const std::string& csv);

// `show servers state` output made into the server-state file a reload to `config`
// loads: the lines of servers whose address in `config` differs removed (the old
// address would come back); the others' admin state set from `config` (MAINT when
// `disabled`, READY otherwise: runtime-forced states do not outlive the reload), and a
// server in rotation that only MAINT had stopped, or that has no checks, running.
// Health states of checked servers survive. A new server of `config` named in
// `unproven` ("backend/server") and held down (heldDown) gets a line that starts it
// stopped, in rotation once its checks pass `rise` times. Pure.
std::string filterServersState(const std::string& text, const std::string& config,
                               const std::set<std::string>& unproven = {});

// The `unproven` list of a bundle's manifest.json ("backend/server"); empty when the
// text has none. Pure.
std::set<std::string> unprovenOf(const std::string& manifest_json);

}  // namespace mlb::reloader
