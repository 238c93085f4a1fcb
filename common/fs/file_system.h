#pragma once
// The file operations the bundle publisher needs, behind an interface: the real one
// (POSIX, through files.h) and, in tests, one that injects faults.
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace mlb::common {

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  virtual Status makeDirs(const std::string& dir) = 0;
  // mkdir(2) of one new directory (0755); an error when it exists.
  virtual Status makeDir(const std::string& dir) = 0;
  virtual Result<std::vector<std::string>> listDir(const std::string& dir) = 0;
  virtual Status removeTree(const std::string& path) = 0;
  virtual Status unlink(const std::string& path) = 0;
  // The target of a symlink, "" when there is none.
  virtual std::string readLink(const std::string& link) = 0;
  virtual Result<std::string> readFile(const std::string& path) = 0;
  // A new file, written and fsynced (files.h writeNewFile).
  virtual Status writeNewFile(const std::string& path, const std::string& data) = 0;
  virtual Status fsyncDir(const std::string& dir) = 0;
  virtual Status rename(const std::string& from, const std::string& to) = 0;
  // link(2): a second name for an existing file (an error when `name` exists).
  virtual Status hardLink(const std::string& existing, const std::string& name) = 0;
  // Points `link` at `target` atomically (files.h replaceSymlink).
  virtual Status replaceSymlink(const std::string& target, const std::string& link) = 0;
  // The modification time, or nothing when `path` does not exist.
  virtual std::optional<timespec> modified(const std::string& path) = 0;
  // Sets the modification time to now.
  virtual void touch(const std::string& path) = 0;
};

// The process's file system (POSIX calls).
FileSystem& realFileSystem();

}  // namespace mlb::common
