#include "controller/publish/bundle_publisher.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <set>

#include "common/fs/files.h"
#include "common/hash.h"
#include "controller/publish/endpoints_lua.h"

namespace mlb::controller {

using common::Error;
using common::Result;
using common::Status;

std::string bundleVersion(const Bundle& b) {
  std::string all = "haproxy.cfg ";
  all.append(b.config_digest.empty() ? common::sha256Hex(b.config) : b.config_digest);
  all.append("\ndomain2backend.map ").append(common::sha256Hex(b.domain_map));
  all.append("\napp2backend.map ").append(common::sha256Hex(b.app_map));
  return common::sha256Hex(all).substr(0, 16);
}

BundlePublisher::BundlePublisher(std::string state_dir, int keep_bundles, common::FileSystem& fs)
    : state_dir_(std::move(state_dir)), keep_bundles_(std::max(1, keep_bundles)), fs_(fs) {}

Status BundlePublisher::init() {
  if (auto st = fs_.makeDirs(bundlesDir()); !st) {
    return st;
  }
  auto names = fs_.listDir(bundlesDir());
  if (!names) {
    return names.error();
  }
  for (const auto& n : *names) {
    if (n.rfind(".tmp-", 0) == 0 || n.rfind(".scratch-", 0) == 0 || n.rfind(".trash-", 0) == 0) {
      (void)fs_.removeTree(bundlesDir() + "/" + n);
    }
  }
  // A `current.tmp.*` symlink left by a kill between symlink() and rename().
  auto top = fs_.listDir(state_dir_);
  if (top) {
    for (const auto& n : *top) {
      if (n.rfind("current.tmp.", 0) == 0) {
        (void)fs_.unlink(state_dir_ + "/" + n);
      }
    }
  }
  return Status::ok();
}

std::string BundlePublisher::linkTarget(const std::string& link) const {
  const std::string target = fs_.readLink(link);
  const auto slash = target.rfind('/');
  return slash == std::string::npos ? target : target.substr(slash + 1);
}

std::string BundlePublisher::currentVersion() const { return linkTarget(state_dir_ + "/current"); }

std::string BundlePublisher::currentManifest() const {
  auto r = fs_.readFile(state_dir_ + "/current/manifest.json");
  return r ? *r : "";
}

Status BundlePublisher::writeFiles(const std::string& dir, const Bundle& b,
                                   const std::string& manifest_json, const std::string& edits,
                                   bool reuse) {
  const bool whole = edits.empty();
  const bool linkable = reuse && !last_version_.empty();
  std::string joined;  // the text of a bundle written whole from its pieces
  if (whole && b.config.empty() && !b.piece_text.empty()) {
    joined = common::joinPieces(b.piece_text);
  }
  const std::string& config = joined.empty() ? b.config : joined;
  struct File {
    const char* name;
    const std::string* data;
    const std::string* last;  // the last bundle's, or null: always written
  };
  for (const File& f :
       {File{whole ? "haproxy.cfg" : common::kConfigEditsFile, whole ? &config : &edits, nullptr},
        File{"domain2backend.map", &b.domain_map, &last_domain_map_},
        File{"app2backend.map", &b.app_map, &last_app_map_},
        File{"mlb.lua", &endpointsLua(), &endpointsLua()},
        File{"manifest.json", &manifest_json, nullptr}}) {
    // The directory is new and renamed into place once complete: plain writes.
    if (auto st = writeOrLink(dir, f.name, *f.data, linkable ? f.last : nullptr); !st) {
      return st;
    }
  }
  return Status::ok();
}

Status BundlePublisher::writeOrLink(const std::string& dir, const char* name,
                                    const std::string& data, const std::string* last) {
  const std::string path = dir + "/" + name;
  if (last != nullptr && *last == data &&
      fs_.hardLink(bundlesDir() + "/" + last_version_ + "/" + name, path)) {
    return Status::ok();
  }
  return fs_.writeNewFile(path, data);  // (also when the last bundle was pruned since)
}

Result<bool> BundlePublisher::publish(const std::string& version, const Bundle& bundle,
                                      const std::string& manifest_json) {
  if (currentVersion() == version) {
    return false;
  }
  const std::string final_dir = bundlesDir() + "/" + version;
  if (!fs_.modified(final_dir)) {
    const std::string edits = editsFor(bundle);
    if (auto s = writeBundleDir(version, bundle, manifest_json, edits); !s) {
      return s.error();
    }
    bases_[version] = edits.empty() ? "" : base_.version;
    last_version_ = version;
    last_domain_map_ = bundle.domain_map;
    last_app_map_ = bundle.app_map;
    if (edits.empty() && !bundle.pieces.empty()) {
      base_ = {version, bundle.pieces.back().end, bundle.pieces};
    }
  } else if (auto st = reuse(version, bundle, manifest_json); !st) {
    return st.error();
  }
  if (auto s = fs_.replaceSymlink("bundles/" + version, state_dir_ + "/current"); !s) {
    return s.error();
  }
  prune(version);
  return true;
}

// Going back to a bundle that is still on disk: point at it again, marked as most
// recently used so that pruning keeps it; written again when its configuration cannot
// be read (its base gone after an interrupted prune, neither file there).
Status BundlePublisher::reuse(const std::string& version, const Bundle& bundle,
                              const std::string& manifest_json) {
  const std::string dir = bundlesDir() + "/" + version;
  const std::string& base = baseOf(version);
  const std::string whole = (base.empty() ? dir : bundlesDir() + "/" + base) + "/haproxy.cfg";
  if (!fs_.modified(whole)) {
    bases_.erase(version);
    (void)fs_.removeTree(dir);
    return writeBundleDir(version, bundle, manifest_json, "");
  }
  fs_.touch(dir);
  return Status::ok();
}

std::string BundlePublisher::editsFor(const Bundle& b) {
  if (b.pieces.empty() || base_.version.empty() ||
      !fs_.modified(bundlesDir() + "/" + base_.version + "/haproxy.cfg")) {
    return "";
  }
  // Past an eighth of the configuration, a whole bundle costs about the same and
  // becomes the base of the next ones.
  const size_t budget = std::max<size_t>(64 * 1024, base_.size / 8);
  common::ConfigEdits edits;
  const auto texts = b.piece_text.empty() ? common::pieceTexts(b.config, b.pieces) : b.piece_text;
  if (!common::editsFromBase(base_, b.pieces, texts, budget, edits)) {
    return "";
  }
  return common::formatConfigEdits(edits);
}

// bundles/<version>, complete or not at all: written under a temporary name, synced,
// renamed into place.
Status BundlePublisher::writeBundleDir(const std::string& version, const Bundle& bundle,
                                       const std::string& manifest_json, const std::string& edits) {
  const std::string final_dir = bundlesDir() + "/" + version;
  const std::string tmp = bundlesDir() + "/.tmp-" + version + "-" + std::to_string(::getpid());
  (void)fs_.removeTree(tmp);
  if (auto s = fs_.makeDir(tmp); !s) {
    return s;
  }
  if (auto s = writeFiles(tmp, bundle, manifest_json, edits, /*reuse=*/true); !s) {
    (void)fs_.removeTree(tmp);
    return s;
  }
  if (auto s = fs_.fsyncDir(tmp); !s) {
    return s;
  }
  if (auto s = fs_.rename(tmp, final_dir); !s) {
    (void)fs_.removeTree(tmp);
    return s;
  }
  return fs_.fsyncDir(bundlesDir());
}

void BundlePublisher::prune(const std::string& keep_version) {
  auto names = fs_.listDir(bundlesDir());
  if (!names) {
    return;
  }
  std::vector<std::pair<timespec, std::string>> bundles;
  for (const auto& n : *names) {
    if (n.empty() || n[0] == '.') {
      continue;
    }
    if (auto t = fs_.modified(bundlesDir() + "/" + n)) {
      bundles.push_back({*t, n});
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
  std::set<std::string> keep = {linkTarget(state_dir_ + "/live"),
                                linkTarget(state_dir_ + "/applying")};
  int kept = 0;
  for (const auto& [t, n] : bundles) {
    if (!keep.count(n) && (n == keep_version || kept < keep_bundles_)) {
      ++kept;
      keep.insert(n);
    }
  }
  // The bases of the bundles kept are kept with them (a base is a whole bundle).
  for (const std::string& n : std::vector<std::string>(keep.begin(), keep.end())) {
    if (!n.empty()) {
      keep.insert(baseOf(n));
    }
  }
  // Edits before the bases they refer to: a kill in between never leaves a bundle
  // without its base.
  std::stable_partition(bundles.begin(), bundles.end(),
                        [this](const auto& b) { return !baseOf(b.second).empty(); });
  for (const auto& [t, n] : bundles) {
    if (keep.count(n)) {
      continue;
    }
    bases_.erase(n);
    // Rename first, then delete: a kill in the middle of a delete must never leave a
    // half-deleted bundle under its real name. Leftovers are removed at start.
    const std::string trash = bundlesDir() + "/.trash-" + n + "-" + std::to_string(::getpid());
    if (fs_.rename(bundlesDir() + "/" + n, trash)) {
      (void)fs_.removeTree(trash);
    }
  }
}

const std::string& BundlePublisher::baseOf(const std::string& version) {
  auto it = bases_.find(version);
  if (it == bases_.end()) {
    it = bases_.emplace(version, common::bundleBase(bundlesDir() + "/" + version, fs_)).first;
  }
  return it->second;
}

Result<std::string> BundlePublisher::writeScratch(const Bundle& bundle) {
  const std::string dir = bundlesDir() + "/.scratch-" + std::to_string(::getpid()) + "-" +
                          std::to_string(scratch_counter_++);
  (void)fs_.removeTree(dir);
  if (auto s = fs_.makeDir(dir); !s) {
    return s.error();
  }
  if (auto s = writeFiles(dir, bundle, "{}", "", /*reuse=*/false); !s) {
    (void)fs_.removeTree(dir);
    return s.error();
  }
  return dir;
}

void BundlePublisher::removeScratch(const std::string& dir) { (void)fs_.removeTree(dir); }

}  // namespace mlb::controller
