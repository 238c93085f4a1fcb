#include "reloader/haproxy/pending_master.h"

#include "common/fs/files.h"

namespace mlb::reloader {

std::string pendingMasterPath(const std::string& state_dir) {
  return state_dir + "/haproxy.master.next";
}

common::Status writePendingMaster(const std::string& state_dir, const MasterRecord& rec) {
  return common::writeFileAtomic(pendingMasterPath(state_dir),
                                 std::to_string(rec.pid) + " " + std::to_string(rec.start_time) +
                                     (rec.live_version.empty() ? "" : " " + rec.live_version) +
                                     "\n");
}

const char* pendingMasterName(PendingMaster p) {
  switch (p) {
    case PendingMaster::Starting:
      return "starting";
    case PendingMaster::Promoted:
      return "promoted";
    case PendingMaster::Failed:
      return "failed";
    case PendingMaster::None:
      break;
  }
  return "none";
}

namespace {

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
    (void)common::removeTree(pendingMasterPath(state_dir));  // it never came up
    return PendingMaster::Failed;
  }
  if (!verifyMaster(table, pending->pid, state_dir, pending) ||
      !serves(sockets, state_dir, pending->pid)) {
    return PendingMaster::Starting;  // still the entrypoint, or HAProxy loading
  }
  if (!writeMasterRecord(state_dir, *pending)) {
    return PendingMaster::Starting;  // retried at the next call
  }
  (void)common::removeTree(pendingMasterPath(state_dir));
  return PendingMaster::Promoted;
}

}  // namespace mlb::reloader
