#pragma once
// Pure: decides how a new bundle goes live — through HAProxy's Runtime API, without
// a reload, when the only differences from the live configuration are the servers of
// existing backends (added, removed, `disabled` toggled) and no other file of the
// bundle (the maps) differs; by a reload for anything
// else, including every case HAProxy 2.6 cannot change safely at runtime: static-rr
// or map-based hashing, cookie persistence, `use-server` or `track` references,
// keywords refused for dynamic servers, an address changed under the same name.
// See docs/reload-protocol.md ("Server changes without a reload").
#include <set>
#include <string>
#include <vector>

namespace mlb::reloader {

// One `server` line of a backend.
struct ServerLine {
  std::string backend;
  std::string name;
  std::string address;                // "ip:port"
  std::vector<std::string> keywords;  // after the address, `disabled` excluded
  // The `default-server` keywords in effect for this line (the defaults section's,
  // then the backend's): a reload applies them, `add server` on 2.6 does not.
  std::vector<std::string> inherited;
  bool disabled = false;
  bool check = false;  // `check` here or inherited
  bool agent = false;  // `agent-check` here or inherited
  // The bundle marks its task not known healthy (manifest `unproven`): added DOWN,
  // in rotation once HAProxy's checks pass. Only for a checked, enabled, agent-less line.
  bool hold_down = false;
};

// Whether `s` is held DOWN until its checks pass: marked, checked, enabled, no agent.
bool heldDown(const ServerLine& s);

// The weight a fresh load gives the server: its last `weight`, inherited or its own; 1.
int configWeight(const ServerLine& s);

// The `add server` command that creates the server of this line.
std::string addCommand(const ServerLine& s);

struct RuntimePlan {
  enum class Kind { Nothing, Runtime, Reload };
  Kind kind = Kind::Nothing;
  std::string reason;        // Reload: why (a short, fixed text naming the case) + the detail
  std::string reason_class;  // Reload: the case alone, for a metric label
  // Runtime: the commands of the batch, in order, and what each must answer.
  enum class Expect { Empty, Registered };
  std::vector<std::string> commands;
  std::vector<Expect> expect;
  // Runtime: servers to drain now and delete once idle (backend, server), and for each
  // the `add server` command that would create it as it was (a server back before its
  // delete is revived only if it comes back the same).
  std::vector<std::pair<std::string, std::string>> removals;
  std::vector<std::string> removed_adds;
  size_t added = 0, removed = 0, changed = 0;
  // Runtime: the backends the commands change (their drift is checked after the batch).
  std::set<std::string> backends;
  // An added server line has a shape the live configuration does not have: the new
  // configuration must pass `haproxy -c` first.
  bool needs_validation = false;
  // Runtime: maps whose file changed, with their whole new content (a map is read at
  // load only: replaced at runtime atomically, `prepare`/`add @ver`/`commit`).
  struct MapUpdate {
    std::string path;  // as the configuration names it
    std::vector<std::pair<std::string, std::string>> entries;
  };
  std::vector<MapUpdate> maps;
};

// `max_changes`: more changed servers than this reload instead (one batch must fit
// HAProxy's CLI buffers; a mass change is a reload's job).
// `unproven`: "backend/server" of the servers the bundle marks (their hold_down).
RuntimePlan planRuntime(const std::string& live_config, const std::string& new_config,
                        size_t max_changes = 200, const std::set<std::string>& unproven = {});

// Adds to a runtime (or empty) plan the update of the bundle file `name` whose text
// changed to `text`: one MapUpdate per path under which `config` loads it as a map.
// A file the configuration does not load changes nothing. Reload (false) for a file
// loaded otherwise than as a map (the Lua service), or an entry a batch cannot carry.
bool planMapUpdate(const std::string& config, const std::string& name, const std::string& text,
                   RuntimePlan& plan);

// The `server` lines of a configuration, by backend (for drift checks): of every
// backend, or of the backends in `only` when it is not empty.
std::vector<ServerLine> serverLines(const std::string& config,
                                    const std::set<std::string>& only = {});

// The batch for adding one server as a reload would load it: add (explicit id, the
// inherited `default-server` keywords, then the line's own), health checks and agent
// checks on, and ready at once unless `disabled` — UP as a freshly loaded server is,
// taken out by HAProxy's own checks if it fails them. A held-down server goes through
// DRAIN (no traffic) to DOWN, then ready: in rotation once its checks pass `rise` times,
// as a reload starts it from the server-state file.
void appendAddCommands(const ServerLine& s, RuntimePlan& plan);

// The commands that take a removed server out of rotation before its delete: its
// agent off; `state drain` unless it is in MAINT (drain would take it out of MAINT).
void appendRemoveCommands(const ServerLine& s, RuntimePlan& plan);

}  // namespace mlb::reloader
