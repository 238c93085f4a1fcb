#include "reloader/haproxy/pending_master.h"

#include "common/fs/files.h"

namespace mlb::reloader {

common::Status writePendingMaster(const std::string& state_dir, const MasterRecord& rec) {
  return writeMasterRecordFile(pendingMasterPath(state_dir), rec);
}

namespace {

// Removes the pending record only while it still names `rec` (a newer handover may
// have replaced it since it was read).
void dropIfStill(const std::string& state_dir, const MasterRecord& rec) {
  auto now = readPendingMaster(state_dir);
  if (now && now->pid == rec.pid && now->start_time == rec.start_time) {
    (void)common::removeTree(pendingMasterPath(state_dir));
  }
}

bool serves(HaproxySockets& sockets, const std::string& state_dir, pid_t pid) {
  auto text = sockets.command(state_dir + "/master.sock", "show proc", 1000);
  if (!text) {
    return false;
  }
  auto sp = parseShowProc(*text);
  return sp && sp->master_pid == pid && !sp->workers.empty();
}

}  // namespace

PendingMaster settlePendingMaster(const ProcessTable& table, HaproxySockets& sockets,
                                  const std::string& state_dir) {
  auto pending = readPendingMaster(state_dir);
  if (!pending) {
    return PendingMaster::None;
  }
  auto p = table.read(pending->pid);
  if (!p || p->start_time != pending->start_time) {
    dropIfStill(state_dir, *pending);  // it never came up
    return PendingMaster::Failed;
  }
  if (!verifyMaster(table, pending->pid, state_dir, pending) ||
      !serves(sockets, state_dir, pending->pid)) {
    return PendingMaster::Starting;  // still the entrypoint, or HAProxy loading
  }
  auto again = readPendingMaster(state_dir);
  if (!again || again->pid != pending->pid || again->start_time != pending->start_time) {
    return PendingMaster::Starting;  // a newer handover recorded its own meanwhile
  }
  if (!writeMasterRecord(state_dir, *pending)) {
    return PendingMaster::Starting;  // retried at the next call
  }
  dropIfStill(state_dir, *pending);
  return PendingMaster::Promoted;
}

}  // namespace mlb::reloader
