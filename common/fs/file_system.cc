#include "common/fs/file_system.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/fs/files.h"

namespace mlb::common {
namespace {

class PosixFileSystem final : public FileSystem {
 public:
  Status makeDirs(const std::string& dir) override { return common::makeDirs(dir); }
  Status makeDir(const std::string& dir) override {
    return ::mkdir(dir.c_str(), 0755) == 0 ? Status::ok() : Status(errnoError("mkdir", dir));
  }
  Result<std::vector<std::string>> listDir(const std::string& dir) override {
    return common::listDir(dir);
  }
  Status removeTree(const std::string& path) override { return common::removeTree(path); }
  Status unlink(const std::string& path) override {
    return ::unlink(path.c_str()) == 0 ? Status::ok() : Status(errnoError("unlink", path));
  }
  std::string readLink(const std::string& link) override {
    char buf[PATH_MAX];
    const ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }
  Result<std::string> readFile(const std::string& path) override { return common::readFile(path); }
  Status writeNewFile(const std::string& path, const std::string& data) override {
    return common::writeNewFile(path, data);
  }
  Status fsyncDir(const std::string& dir) override { return common::fsyncDir(dir); }
  Status rename(const std::string& from, const std::string& to) override {
    return ::rename(from.c_str(), to.c_str()) == 0 ? Status::ok()
                                                   : Status(errnoError("rename", from));
  }
  Status hardLink(const std::string& existing, const std::string& name) override {
    return ::link(existing.c_str(), name.c_str()) == 0 ? Status::ok()
                                                       : Status(errnoError("link", name));
  }
  Status replaceSymlink(const std::string& target, const std::string& link) override {
    return common::replaceSymlink(target, link);
  }
  std::optional<timespec> modified(const std::string& path) override {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      return std::nullopt;
    }
    return st.st_mtim;
  }
  void touch(const std::string& path) override { ::utimensat(AT_FDCWD, path.c_str(), nullptr, 0); }
};

}  // namespace

FileSystem& realFileSystem() {
  static PosixFileSystem fs;
  return fs;
}

}  // namespace mlb::common
