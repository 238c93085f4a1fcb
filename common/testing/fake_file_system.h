#pragma once
// An in-memory FileSystem for tests: files, directories and symlinks in maps, no
// disk. Paths are plain strings ("/a/b"); a directory must exist to be listed.
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/fs/file_system.h"

namespace mlb::common::testing {

class FakeFileSystem : public FileSystem {
 public:
  FakeFileSystem() = default;
  // Files (their directories are made too).
  explicit FakeFileSystem(const std::map<std::string, std::string>& files) {
    for (const auto& [path, data] : files) {
      (void)makeDirs(parent(path));
      files_[path] = data;
      touch(path);
    }
  }

  Status makeDirs(const std::string& dir) override {
    for (std::string d = dir; !d.empty() && d != "/"; d = parent(d)) {
      dirs_.insert(d);
    }
    return {};
  }
  Status makeDir(const std::string& dir) override {
    if (exists(dir)) {
      return Error::io("mkdir " + dir + ": File exists");
    }
    dirs_.insert(dir);
    return {};
  }
  Result<std::vector<std::string>> listDir(const std::string& dir) override {
    if (!dirs_.count(dir)) {
      return Error::notFound("opendir " + dir + ": No such file or directory");
    }
    std::set<std::string> names;
    auto add = [&](const std::string& p) {
      if (parent(p) == dir) {
        names.insert(p.substr(dir == "/" ? 1 : dir.size() + 1));
      }
    };
    for (const auto& [p, data] : files_) {
      add(p);
    }
    for (const auto& [p, target] : links_) {
      add(p);
    }
    for (const auto& p : dirs_) {
      add(p);
    }
    return std::vector<std::string>(names.begin(), names.end());
  }
  Status removeTree(const std::string& path) override {
    auto under = [&](const std::string& p) { return p == path || p.rfind(path + "/", 0) == 0; };
    std::erase_if(files_, [&](const auto& kv) { return under(kv.first); });
    std::erase_if(links_, [&](const auto& kv) { return under(kv.first); });
    std::erase_if(dirs_, under);
    std::erase_if(mtimes_, [&](const auto& kv) { return under(kv.first); });
    return {};
  }
  Status unlink(const std::string& path) override {
    if (files_.erase(path) + links_.erase(path) == 0) {
      return Error::notFound("unlink " + path + ": No such file or directory");
    }
    mtimes_.erase(path);
    return {};
  }
  std::string readLink(const std::string& link) override {
    auto it = links_.find(link);
    return it == links_.end() ? "" : it->second;
  }
  Result<std::string> readFile(const std::string& path) override {
    auto it = files_.find(path);
    if (it == files_.end()) {
      return Error::notFound("open " + path + ": No such file or directory");
    }
    return it->second;
  }
  Status writeNewFile(const std::string& path, const std::string& data) override {
    if (exists(path)) {
      return Error::io("open " + path + ": File exists");
    }
    files_[path] = data;
    touch(path);
    return {};
  }
  Status fsyncDir(const std::string&) override { return {}; }
  // Replaces `to` (a file or a link), keeping the modification time.
  Status rename(const std::string& from, const std::string& to) override {
    if (!files_.count(from) && !links_.count(from)) {
      return Error::notFound("rename " + from + ": No such file or directory");
    }
    files_.erase(to);
    links_.erase(to);
    mtimes_.erase(to);
    if (auto f = files_.find(from); f != files_.end()) {
      files_[to] = std::move(f->second);
      files_.erase(f);
    } else {
      auto l = links_.find(from);
      links_[to] = std::move(l->second);
      links_.erase(l);
    }
    if (auto m = mtimes_.find(from); m != mtimes_.end()) {
      mtimes_[to] = m->second;
      mtimes_.erase(m);
    }
    return {};
  }
  // The files are immutable once written: a copy behaves as a second name.
  Status hardLink(const std::string& existing, const std::string& name) override {
    auto it = files_.find(existing);
    if (it == files_.end()) {
      return Error::notFound("link " + existing + ": No such file or directory");
    }
    if (exists(name)) {
      return Error::io("link " + name + ": File exists");
    }
    files_[name] = it->second;
    touch(name);
    return {};
  }
  Status replaceSymlink(const std::string& target, const std::string& link) override {
    links_[link] = target;
    return {};
  }
  std::optional<timespec> modified(const std::string& path) override {
    auto it = mtimes_.find(path);
    if (it == mtimes_.end()) {
      return std::nullopt;
    }
    return timespec{it->second, 0};
  }
  void touch(const std::string& path) override { mtimes_[path] = ++now_; }

 private:
  static std::string parent(const std::string& p) {
    const size_t slash = p.rfind('/');
    return slash == std::string::npos || slash == 0 ? "/" : p.substr(0, slash);
  }
  bool exists(const std::string& p) const {
    return files_.count(p) || links_.count(p) || dirs_.count(p);
  }

  std::map<std::string, std::string> files_;
  std::map<std::string, std::string> links_;
  std::set<std::string> dirs_;
  std::map<std::string, time_t> mtimes_;
  time_t now_ = 1'000'000;
};

}  // namespace mlb::common::testing
