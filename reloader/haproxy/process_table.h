#pragma once
// Reads processes from a /proc tree and decides which are HAProxy processes of this
// mlb instance. The root is a parameter so tests can point it at a planted tree.
// Never by name alone (no pidof/pkill): a pid is ours only when its executable is
// HAProxy, its command line names this instance's state directory and, for the
// master, its start time matches the one recorded when we started it.
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace mlb::reloader {

struct ProcessInfo {
  pid_t pid = 0;
  pid_t ppid = 0;
  unsigned long long start_time = 0;  // field 22 of /proc/<pid>/stat (clock ticks since boot)
  std::string exe;                    // readlink /proc/<pid>/exe ("" if unreadable)
  std::vector<std::string> cmdline;
  char state = '?';
};

class ProcessTable {
 public:
  explicit ProcessTable(std::string proc_root = "/proc") : root_(std::move(proc_root)) {}
  // One process, or nullopt when it does not exist (or is a zombie).
  std::optional<ProcessInfo> read(pid_t pid) const;
  // Every process (best effort: processes that vanish while scanning are skipped).
  std::vector<ProcessInfo> list() const;
  // Whether `pid`, through its own root (`/proc/<pid>/root`: its mount namespace),
  // sees the very directory `dir` is here (same device and inode): another instance
  // in another container may use the same path for a state dir of its own. False
  // when it cannot be seen.
  bool seesDir(pid_t pid, const std::string& dir) const;

 private:
  std::string root_;
};

// The command line of the HAProxy master of `state_dir` (before any -x/-sf):
// master-worker mode, the master CLI socket, the pid file and the live config, all
// under `state_dir`. isInstanceHaproxy() recognises exactly these.
std::vector<std::string> masterArgv(const std::string& haproxy_bin, const std::string& state_dir);

// True when `p` looks like an HAProxy started for `state_dir`: the executable's (or
// argv[0]'s) base name starts with "haproxy", and the command line has the pid file
// or master socket of this state dir. Pure: a path names no instance by itself.
bool isInstanceHaproxy(const ProcessInfo& p, const std::string& state_dir);

// Where `dir` comes from in a mount table (the text of /proc/<pid>/mountinfo): the
// device of the mount that holds it and its path inside that device's filesystem
// ("0:52 /volumes/a/state"); what ProcessTable::seesDir compares when a process's
// root is closed to us. Pure.
std::optional<std::string> mountSource(const std::string& mountinfo, const std::string& dir);

// isInstanceHaproxy(), and the process sees this state dir itself (seesDir): an HAProxy
// of this instance, never another instance's at the same path.
bool isOurHaproxy(const ProcessTable& table, const ProcessInfo& p, const std::string& state_dir);

// The recorded identity of the master we started: pid and start time.
struct MasterRecord {
  pid_t pid = 0;
  unsigned long long start_time = 0;
  std::string live_version;  // the bundle `live` named when the master was started
};
std::optional<MasterRecord> readMasterRecord(const std::string& state_dir);
// A handover's new master, recorded before its exec (pending_master.h).
std::string pendingMasterPath(const std::string& state_dir);
std::optional<MasterRecord> readPendingMaster(const std::string& state_dir);
std::optional<MasterRecord> readMasterRecordFile(const std::string& path);
common::Status writeMasterRecordFile(const std::string& path, const MasterRecord& rec);
common::Status writeMasterRecord(const std::string& state_dir, const MasterRecord& rec);

// Ok when `pid` is verified as this instance's master, else the error says why:
// pid > 1, alive, HAProxy of this state dir, no HAProxy parent of this instance
// (a worker is not a master), and the pid and start time recorded in this state dir's
// haproxy.master by the entrypoint that exec'd it: something only this instance has.
common::Status verifyMaster(const ProcessTable& table, pid_t pid, const std::string& state_dir,
                            const std::optional<MasterRecord>& record);
// Same for a worker of a verified master: its parent must be that master.
common::Status verifyWorker(const ProcessTable& table, pid_t pid, pid_t master,
                            const std::string& state_dir);

// Ok when `pid` is a stale master of `state_dir`, else why it is not: an HAProxy
// master (no HAProxy parent of this instance) that sees this very state dir
// (isOurHaproxy: not another instance's at the same path), other than and
// started before `current` (the verified master). Such a master is left over by a
// handover that missed its -sf, and splits the traffic with the current one.
common::Status verifyStaleMaster(const ProcessTable& table, pid_t pid, pid_t current,
                                 const std::string& state_dir);
// Every stale master of `state_dir` (see verifyStaleMaster).
std::vector<pid_t> findStaleMasters(const ProcessTable& table, pid_t current,
                                    const std::string& state_dir);

// The verified master: a handover's pending one once it runs HAProxy, else the one
// recorded in haproxy.master (written by the entrypoint before it execs HAProxy),
// else the pid of <state>/haproxy.pid verified against either. The error says why
// neither verifies (NotFound: no pid file).
common::Result<pid_t> findVerifiedMaster(const ProcessTable& table, const std::string& state_dir);

}  // namespace mlb::reloader
