#pragma once
// A handover's new master is recorded as pending (`<state>/haproxy.master.next`) by
// the entrypoint before it execs HAProxy, and becomes the recorded master
// (`haproxy.master`) only once it answers master.sock with a worker. A new HAProxy
// that fails to start (a newer image refusing the live config, a bad binary) leaves the
// old master recorded: governed, reloadable, nothing frozen.
#include <string>

#include "common/result.h"
#include "reloader/haproxy/master_cli.h"
#include "reloader/haproxy/process_table.h"

namespace mlb::reloader {

common::Status writePendingMaster(const std::string& state_dir, const MasterRecord& rec);

enum class PendingMaster {
  None,      // no handover pending
  Starting,  // its process runs but does not serve yet
  Promoted,  // it serves: it is the recorded master now
  Failed,    // its process is gone (or the pid was reused): the record was dropped
};

// Promotes the pending master once it serves, drops it once it is gone. Callers hold
// the handover lock: an entrypoint records its own pending master under it.
PendingMaster settlePendingMaster(const ProcessTable& table, HaproxySockets& sockets,
                                  const std::string& state_dir);

}  // namespace mlb::reloader
