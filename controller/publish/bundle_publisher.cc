#include "controller/publish/bundle_publisher.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "common/fs/files.h"
#include "common/hash.h"
#include "controller/render/config_renderer.h"

namespace mlb::controller {

using common::Error;
using common::Result;
using common::Status;

std::string bundleVersion(const Bundle& b) {
  std::string all;
  all.reserve(b.config.size() + b.domain_map.size() + b.app_map.size() + 64);
  all.append("haproxy.cfg\n").append(b.config);
  all.append("\0domain2backend.map\n", 20).append(b.domain_map);
  all.append("\0app2backend.map\n", 17).append(b.app_map);
  return common::sha256Hex(all).substr(0, 16);
}

BundlePublisher::BundlePublisher(std::string state_dir, int keep_bundles)
    : state_dir_(std::move(state_dir)), keep_bundles_(std::max(1, keep_bundles)) {}

Status BundlePublisher::init() {
  if (auto st = common::makeDirs(bundlesDir()); !st) {
    return st;
  }
  auto names = common::listDir(bundlesDir());
  if (!names) {
    return names.error();
  }
  for (const auto& n : *names) {
    if (n.rfind(".tmp-", 0) == 0 || n.rfind(".scratch-", 0) == 0 || n.rfind(".trash-", 0) == 0) {
      (void)common::removeTree(bundlesDir() + "/" + n);
    }
  }
  // A `current.tmp.*` symlink left by a kill between symlink() and rename().
  auto top = common::listDir(state_dir_);
  if (top) {
    for (const auto& n : *top) {
      if (n.rfind("current.tmp.", 0) == 0) {
        ::unlink((state_dir_ + "/" + n).c_str());
      }
    }
  }
  return Status::ok();
}

std::string BundlePublisher::currentVersion() const {
  char buf[PATH_MAX];
  ssize_t n = ::readlink((state_dir_ + "/current").c_str(), buf, sizeof buf - 1);
  if (n <= 0) {
    return "";
  }
  std::string target(buf, static_cast<size_t>(n));
  auto slash = target.rfind('/');
  return slash == std::string::npos ? target : target.substr(slash + 1);
}

std::string BundlePublisher::currentManifest() const {
  auto r = common::readFile(state_dir_ + "/current/manifest.json");
  return r ? *r : "";
}

Status BundlePublisher::writeFiles(const std::string& dir, const Bundle& b,
                                   const std::string& manifest_json) {
  for (const auto& [name, data] :
       {std::pair<const char*, const std::string*>{"haproxy.cfg", &b.config},
        {"domain2backend.map", &b.domain_map},
        {"app2backend.map", &b.app_map},
        {"mlb.lua", &endpointsLua()},
        {"manifest.json", &manifest_json}}) {
    // The directory is new and renamed into place once complete: plain writes.
    if (auto st = common::writeNewFile(dir + "/" + name, *data); !st) {
      return st;
    }
  }
  return Status::ok();
}

Result<bool> BundlePublisher::publish(const std::string& version, const Bundle& bundle,
                                      const std::string& manifest_json) {
  if (currentVersion() == version) {
    return false;
  }
  const std::string final_dir = bundlesDir() + "/" + version;
  struct stat st {};
  if (::stat(final_dir.c_str(), &st) != 0) {
    const std::string tmp = bundlesDir() + "/.tmp-" + version + "-" + std::to_string(::getpid());
    (void)common::removeTree(tmp);
    if (::mkdir(tmp.c_str(), 0755) != 0) {
      return Error::io("mkdir " + tmp + ": " + std::strerror(errno));
    }
    if (auto s = writeFiles(tmp, bundle, manifest_json); !s) {
      (void)common::removeTree(tmp);
      return s.error();
    }
    if (auto s = common::fsyncDir(tmp); !s) {
      return s.error();
    }
    if (::rename(tmp.c_str(), final_dir.c_str()) != 0) {
      Error e = Error::io("rename " + tmp + ": " + std::strerror(errno));
      (void)common::removeTree(tmp);
      return e;
    }
    if (auto s = common::fsyncDir(bundlesDir()); !s) {
      return s.error();
    }
  } else {
    // Going back to a bundle that is still on disk: just point at it again, and
    // mark it as most recently used so that pruning keeps it.
    ::utimensat(AT_FDCWD, final_dir.c_str(), nullptr, 0);
  }
  if (auto s = common::replaceSymlink("bundles/" + version, state_dir_ + "/current"); !s) {
    return s.error();
  }
  prune(version);
  return true;
}

namespace {

// The bundle name a symlink like <state>/live points at ("" if none).
std::string linkTarget(const std::string& link) {
  char buf[4096];
  ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
  if (n <= 0) {
    return "";
  }
  std::string target(buf, static_cast<size_t>(n));
  auto slash = target.rfind('/');
  return slash == std::string::npos ? target : target.substr(slash + 1);
}

}  // namespace

void BundlePublisher::prune(const std::string& keep_version) {
  auto names = common::listDir(bundlesDir());
  if (!names) {
    return;
  }
  std::vector<std::pair<timespec, std::string>> bundles;
  for (const auto& n : *names) {
    if (n.empty() || n[0] == '.') {
      continue;
    }
    struct stat st {};
    if (::stat((bundlesDir() + "/" + n).c_str(), &st) == 0) {
      bundles.push_back({st.st_mtim, n});
    }
  }
  std::sort(bundles.begin(), bundles.end(), [](const auto& a, const auto& b) {
    if (a.first.tv_sec != b.first.tv_sec) {
      return a.first.tv_sec > b.first.tv_sec;
    }
    if (a.first.tv_nsec != b.first.tv_nsec) {
      return a.first.tv_nsec > b.first.tv_nsec;
    }
    return a.second > b.second;
  });
  // What the reloader serves (live) and is applying (applying) is never removed: a
  // slow reloader must not lose the bundle it validates or its rollback target.
  const std::string live = linkTarget(state_dir_ + "/live");
  const std::string applying = linkTarget(state_dir_ + "/applying");
  int kept = 0;
  for (const auto& [t, n] : bundles) {
    if (n == live || n == applying) {
      continue;
    }
    if (n == keep_version || kept < keep_bundles_) {
      ++kept;
      continue;
    }
    // Rename first, then delete: a kill in the middle of a delete must never leave a
    // half-deleted bundle under its real name. Leftovers are removed at start.
    const std::string trash = bundlesDir() + "/.trash-" + n + "-" + std::to_string(::getpid());
    if (::rename((bundlesDir() + "/" + n).c_str(), trash.c_str()) == 0) {
      (void)common::removeTree(trash);
    }
  }
}

Result<std::string> BundlePublisher::writeScratch(const Bundle& bundle) {
  const std::string dir = bundlesDir() + "/.scratch-" + std::to_string(::getpid()) + "-" +
                          std::to_string(scratch_counter_++);
  (void)common::removeTree(dir);
  if (::mkdir(dir.c_str(), 0755) != 0) {
    return Error::io("mkdir " + dir + ": " + std::strerror(errno));
  }
  if (auto s = writeFiles(dir, bundle, "{}"); !s) {
    (void)common::removeTree(dir);
    return s.error();
  }
  return dir;
}

void BundlePublisher::removeScratch(const std::string& dir) { (void)common::removeTree(dir); }

}  // namespace mlb::controller
