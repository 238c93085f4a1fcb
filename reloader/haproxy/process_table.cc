#include "reloader/haproxy/process_table.h"

#include <dirent.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/fs/files.h"

namespace mlb::reloader {
namespace {

std::string baseName(const std::string& p) {
  std::string s = p;
  if (auto sp = s.find(" (deleted)"); sp != std::string::npos) {
    s = s.substr(0, sp);  // the binary was replaced by an upgrade
  }
  auto slash = s.rfind('/');
  return slash == std::string::npos ? s : s.substr(slash + 1);
}

}  // namespace

std::optional<ProcessInfo> ProcessTable::read(pid_t pid) const {
  if (pid <= 0) {
    return std::nullopt;
  }
  const std::string dir = root_ + "/" + std::to_string(pid);
  auto stat = common::readFile(dir + "/stat");
  if (!stat) {
    return std::nullopt;
  }
  ProcessInfo p;
  p.pid = pid;
  // "pid (comm) state ppid ..." — comm may contain spaces and parentheses.
  auto close = stat->rfind(')');
  if (close == std::string::npos) {
    return std::nullopt;
  }
  std::istringstream rest(stat->substr(close + 2));
  std::string field;
  std::vector<std::string> f;
  while (rest >> field) {
    f.push_back(field);
  }
  // f[0] = state (field 3), f[1] = ppid (4), f[19] = starttime (22).
  if (f.size() < 20) {
    return std::nullopt;
  }
  p.state = f[0].empty() ? '?' : f[0][0];
  if (p.state == 'Z' || p.state == 'X') {
    return std::nullopt;
  }
  p.ppid = static_cast<pid_t>(std::atoi(f[1].c_str()));
  p.start_time = std::strtoull(f[19].c_str(), nullptr, 10);
  char buf[PATH_MAX];
  ssize_t n = ::readlink((dir + "/exe").c_str(), buf, sizeof buf - 1);
  if (n > 0) {
    p.exe.assign(buf, static_cast<size_t>(n));
  }
  if (auto cmd = common::readFile(dir + "/cmdline"); cmd) {
    std::string cur;
    for (char c : *cmd) {
      if (c == '\0') {
        p.cmdline.push_back(cur);
        cur.clear();
      } else {
        cur.push_back(c);
      }
    }
    if (!cur.empty()) {
      p.cmdline.push_back(cur);
    }
  }
  return p;
}

std::vector<ProcessInfo> ProcessTable::list() const {
  std::vector<ProcessInfo> out;
  DIR* d = ::opendir(root_.c_str());
  if (d == nullptr) {
    return out;
  }
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || pid <= 0) {
      continue;
    }
    if (auto p = read(static_cast<pid_t>(pid))) {
      out.push_back(std::move(*p));
    }
  }
  ::closedir(d);
  return out;
}

std::vector<std::string> masterArgv(const std::string& haproxy_bin, const std::string& state_dir) {
  return {haproxy_bin, "-W",
          "-S",        state_dir + "/master.sock,mode,600",
          "-p",        state_dir + "/haproxy.pid",
          "-f",        state_dir + "/live/haproxy.cfg"};
}

bool isInstanceHaproxy(const ProcessInfo& p, const std::string& state_dir) {
  if (p.cmdline.empty()) {
    return false;
  }
  const std::string exe = baseName(p.exe.empty() ? p.cmdline[0] : p.exe);
  if (exe.rfind("haproxy", 0) != 0 || baseName(p.cmdline[0]).rfind("haproxy", 0) != 0) {
    return false;
  }
  const std::string pid_file = state_dir + "/haproxy.pid";
  const std::string master_sock = state_dir + "/master.sock";
  for (size_t i = 0; i + 1 < p.cmdline.size(); ++i) {
    const std::string& flag = p.cmdline[i];
    const std::string& value = p.cmdline[i + 1];
    if (flag == "-p" && value == pid_file) {
      return true;
    }
    if (flag == "-S" && value.substr(0, value.find(',')) == master_sock) {
      return true;
    }
  }
  return false;
}

// Where `dir` comes from in a mount table (`/proc/<pid>/mountinfo`): the device of
// the mount that holds it and its path inside that device's filesystem. The last of
// the longest mount points that contain it wins (a later mount hides an earlier one).
std::optional<std::string> mountSource(const std::string& mountinfo, const std::string& dir) {
  std::optional<std::string> best;
  size_t best_len = 0;
  std::istringstream in(mountinfo);
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    std::string id, parent, device, root, point;
    if (!(f >> id >> parent >> device >> root >> point)) {
      continue;
    }
    const bool holds =
        point == "/" || dir == point ||
        (dir.rfind(point, 0) == 0 && dir.size() > point.size() && dir[point.size()] == '/');
    if (holds && point.size() >= best_len) {
      best_len = point.size();
      const std::string rel = point == "/" ? dir : dir.substr(point.size());
      const std::string path = (root == "/" ? "" : root) + rel;
      best = device + " " + (path.empty() ? "/" : path);
    }
  }
  return best;
}

bool ProcessTable::seesDir(pid_t pid, const std::string& dir) const {
  char real[PATH_MAX];
  const std::string abs = ::realpath(common::absolutePath(dir).c_str(), real) != nullptr
                              ? std::string(real)
                              : common::absolutePath(dir);
  struct stat here {};
  struct stat there {};
  const std::string proc = root_ + "/" + std::to_string(pid);
  if (::stat(abs.c_str(), &here) != 0) {
    return false;
  }
  // Through its root, no component may be a symlink: an absolute one would be
  // followed in *our* root (/var/run -> /run) and find our own directory.
  std::string prefix = proc + "/root";
  bool link = false;
  for (size_t end = abs.find('/', 1);; end = abs.find('/', end + 1)) {
    struct stat l {};
    if (::lstat((prefix + abs.substr(0, end)).c_str(), &l) == 0 && S_ISLNK(l.st_mode)) {
      link = true;
      break;
    }
    if (end == std::string::npos) {
      break;
    }
  }
  if (!link && ::stat((proc + "/root" + abs).c_str(), &there) == 0) {
    return here.st_dev == there.st_dev && here.st_ino == there.st_ino;
  }
  if (link) {
    return false;
  }
  if (errno != EACCES && errno != EPERM) {
    return false;
  }
  // Its root is closed to us (an HAProxy with file capabilities is not dumpable): its
  // mount table is not. The same device and path inside it as ours: the same directory.
  auto ours = common::readFile(root_ + "/self/mountinfo");
  auto theirs = common::readFile(proc + "/mountinfo");
  if (!ours || !theirs) {
    return false;
  }
  auto a = mountSource(*ours, abs);
  auto b = mountSource(*theirs, abs);
  return a && b && *a == *b;
}

bool isOurHaproxy(const ProcessTable& table, const ProcessInfo& p, const std::string& state_dir) {
  return isInstanceHaproxy(p, state_dir) && table.seesDir(p.pid, state_dir);
}

std::optional<MasterRecord> readMasterRecord(const std::string& state_dir) {
  return readMasterRecordFile(state_dir + "/haproxy.master");
}

std::string pendingMasterPath(const std::string& state_dir) {
  return state_dir + "/haproxy.master.next";
}

std::optional<MasterRecord> readPendingMaster(const std::string& state_dir) {
  return readMasterRecordFile(pendingMasterPath(state_dir));
}

std::optional<MasterRecord> readMasterRecordFile(const std::string& path) {
  auto r = common::readFile(path);
  if (!r) {
    return std::nullopt;
  }
  std::istringstream in(*r);
  MasterRecord rec;
  if (!(in >> rec.pid >> rec.start_time) || rec.pid <= 1) {
    return std::nullopt;
  }
  in >> rec.live_version;  // optional third field
  return rec;
}

common::Status writeMasterRecord(const std::string& state_dir, const MasterRecord& rec) {
  return writeMasterRecordFile(state_dir + "/haproxy.master", rec);
}

common::Status writeMasterRecordFile(const std::string& path, const MasterRecord& rec) {
  return common::writeFileAtomic(
      path, std::to_string(rec.pid) + " " + std::to_string(rec.start_time) +
                (rec.live_version.empty() ? "" : " " + rec.live_version) + "\n");
}

namespace {

// A pid that failed verification: why.
common::Status refused(std::string why) {
  return common::Error{common::ErrorCode::InvalidArgument, std::move(why)};
}

}  // namespace

common::Status verifyMaster(const ProcessTable& table, pid_t pid, const std::string& state_dir,
                            const std::optional<MasterRecord>& record) {
  if (pid <= 1) {
    return refused("pid " + std::to_string(pid) + " is never signalled");
  }
  auto p = table.read(pid);
  if (!p) {
    return refused("pid " + std::to_string(pid) + " is not running (stale pid file)");
  }
  if (!isInstanceHaproxy(*p, state_dir)) {
    return refused("pid " + std::to_string(pid) + " is not an HAProxy of this instance's " +
                   state_dir + " (exe " + (p->exe.empty() ? "?" : p->exe) + ")");
  }
  if (auto parent = table.read(p->ppid); parent && isInstanceHaproxy(*parent, state_dir)) {
    return refused("pid " + std::to_string(pid) + " is a worker, not a master");
  }
  if (!record || record->pid != pid) {
    return refused("pid " + std::to_string(pid) + " is not the master recorded in haproxy.master");
  }
  if (record->start_time != p->start_time) {
    return refused("pid " + std::to_string(pid) + " was reused (start time " +
                   std::to_string(p->start_time) + ", recorded " +
                   std::to_string(record->start_time) + ")");
  }
  return {};
}

common::Status verifyWorker(const ProcessTable& table, pid_t pid, pid_t master,
                            const std::string& state_dir) {
  if (pid <= 1 || pid == master) {
    return refused("pid " + std::to_string(pid) + " is not a worker");
  }
  auto p = table.read(pid);
  if (!p) {
    return refused("pid " + std::to_string(pid) + " is not running");
  }
  if (p->ppid != master) {
    return refused("pid " + std::to_string(pid) + " is not a child of master " +
                   std::to_string(master));
  }
  if (!isInstanceHaproxy(*p, state_dir)) {
    return refused("pid " + std::to_string(pid) + " is not an HAProxy of " + state_dir);
  }
  return {};
}

common::Status verifyStaleMaster(const ProcessTable& table, pid_t pid, pid_t current,
                                 const std::string& state_dir) {
  if (pid <= 1 || pid == current) {
    return refused("pid " + std::to_string(pid) + " is not a stale master");
  }
  auto p = table.read(pid);
  auto cur = table.read(current);
  if (!p || !cur) {
    return refused("pid " + std::to_string(pid) + " or the current master is not running");
  }
  if (!isOurHaproxy(table, *p, state_dir) || !isInstanceHaproxy(*cur, state_dir)) {
    return refused("pid " + std::to_string(pid) + " is not an HAProxy of " + state_dir);
  }
  if (auto parent = table.read(p->ppid); parent && isInstanceHaproxy(*parent, state_dir)) {
    return refused("pid " + std::to_string(pid) + " is a worker, not a master");
  }
  if (p->start_time >= cur->start_time) {
    return refused("pid " + std::to_string(pid) + " is not older than the current master");
  }
  return {};
}

std::vector<pid_t> findStaleMasters(const ProcessTable& table, pid_t current,
                                    const std::string& state_dir) {
  std::vector<pid_t> out;
  for (const auto& p : table.list()) {
    if (isInstanceHaproxy(p, state_dir) && verifyStaleMaster(table, p.pid, current, state_dir)) {
      out.push_back(p.pid);
    }
  }
  return out;
}

common::Result<pid_t> findVerifiedMaster(const ProcessTable& table, const std::string& state_dir) {
  // A handover's pending master once it runs HAProxy (the old one is being stopped by
  // its -sf), else the recorded one; the pid file only once HAProxy wrote it and it
  // verifies against one of them.
  const auto pending = readPendingMaster(state_dir);
  if (pending && verifyMaster(table, pending->pid, state_dir, pending)) {
    return pending->pid;
  }
  const auto record = readMasterRecord(state_dir);
  if (record && verifyMaster(table, record->pid, state_dir, record)) {
    return record->pid;
  }
  auto content = common::readFile(state_dir + "/haproxy.pid");
  if (!content) {
    return common::Error::notFound("no pid file");
  }
  pid_t pid = static_cast<pid_t>(std::atoi(content->c_str()));
  common::Status verified = verifyMaster(table, pid, state_dir, record);
  if (!verified && pending && pending->pid == pid) {
    verified = verifyMaster(table, pid, state_dir, pending);
  }
  if (!verified) {
    return verified.error();
  }
  return pid;
}

}  // namespace mlb::reloader
