#include "common/fs/files.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

namespace mlb::common {
namespace {

std::string tmpName(const std::string& path) {
  static std::atomic<unsigned> counter{0};
  return path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
}

std::string dirOf(const std::string& path) {
  auto pos = path.rfind('/');
  if (pos == std::string::npos) {
    return ".";
  }
  return pos == 0 ? "/" : path.substr(0, pos);
}

}  // namespace

Error errnoError(const std::string& what, const std::string& path) {
  int e = errno;
  std::string m = what + " " + path + ": " + std::strerror(e);
  return e == ENOENT ? Error::notFound(m) : Error::io(m);
}

Result<std::string> readFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return errnoError("open", path);
  }
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      Error e = errnoError("read", path);
      ::close(fd);
      return e;
    }
    if (n == 0) {
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

Result<PaddedText> readFilePadded(const std::string& path, size_t padding) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return errnoError("open", path);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    Error e = errnoError("stat", path);
    ::close(fd);
    return e;
  }
  PaddedText out;
  size_t want = static_cast<size_t>(st.st_size);
  // The size may change under us: read until EOF, growing the buffer when needed.
  out.capacity = want + padding;
  out.bytes.reset(new char[out.capacity]);  // uninitialised: read() fills it
  for (;;) {
    const size_t room = out.capacity - padding - out.size;
    char probe = 0;
    ssize_t n = room > 0 ? ::read(fd, out.bytes.get() + out.size, room) : ::read(fd, &probe, 1);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      Error e = errnoError("read", path);
      ::close(fd);
      return e;
    }
    if (n == 0) {
      break;
    }
    if (room == 0) {  // the file grew since fstat: a bigger buffer
      want = want * 2 + 65536;
      std::unique_ptr<char[]> bigger(new char[want + padding]);
      std::memcpy(bigger.get(), out.bytes.get(), out.size);
      bigger[out.size] = probe;
      out.bytes = std::move(bigger);
      out.capacity = want + padding;
    }
    out.size += static_cast<size_t>(n);
  }
  ::close(fd);
  std::memset(out.bytes.get() + out.size, 0, out.capacity - out.size);
  return out;
}

MappedText& MappedText::operator=(MappedText&& o) noexcept {
  if (this != &o) {
    unmap();
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
    capacity_ = std::exchange(o.capacity_, 0);
    mapped_ = std::exchange(o.mapped_, 0);
    read_ = std::move(o.read_);
  }
  return *this;
}

MappedText::~MappedText() { unmap(); }

void MappedText::unmap() {
  if (mapped_ != 0) {
    ::munmap(const_cast<char*>(data_), mapped_);
    mapped_ = 0;
  }
}

Result<MappedText> mapFilePadded(const std::string& path, size_t padding) {
  constexpr off_t kWorthMapping = 1 << 20;
  MappedText out;
  struct stat st {};
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0 && ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= kWorthMapping) {
    const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    const size_t size = static_cast<size_t>(st.st_size);
    const size_t len = (size + padding + page - 1) / page * page;
    // Reserve the whole range (the tail stays anonymous zero pages), then put the
    // file over its start.
    void* base = ::mmap(nullptr, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base != MAP_FAILED &&
        ::mmap(base, size, PROT_READ, MAP_PRIVATE | MAP_FIXED | MAP_POPULATE, fd, 0) == base) {
      ::close(fd);
      out.data_ = static_cast<const char*>(base);
      out.size_ = size;
      out.capacity_ = size + padding;
      out.mapped_ = len;
      return out;
    }
    if (base != MAP_FAILED) {
      ::munmap(base, len);
    }
  }
  if (fd >= 0) {
    ::close(fd);
  }
  auto text = readFilePadded(path, padding);
  if (!text) {
    return text.error();
  }
  out.read_ = std::move(*text);
  out.data_ = out.read_.bytes.get();
  out.size_ = out.read_.size;
  out.capacity_ = out.read_.capacity;
  return out;
}

Status fsyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return errnoError("open", dir);
  }
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) {
    return errnoError("fsync", dir);
  }
  return Status::ok();
}

namespace {

// Creates `tmp` with `data`, fsynced. On failure `tmp` is removed.
Status writeAndSync(const std::string& tmp, const std::string& data, int mode, bool sync = true) {
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    return errnoError("create", tmp);
  }
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      Error e = errnoError("write", tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return e;
    }
    off += static_cast<size_t>(n);
  }
  if (sync && ::fsync(fd) != 0) {
    Error e = errnoError("fsync", tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return e;
  }
  // Without the fsync, close() is where a delayed write error (NFS, quota) shows.
  if (::close(fd) != 0) {
    Error e = errnoError("close", tmp);
    ::unlink(tmp.c_str());
    return e;
  }
  return Status::ok();
}

}  // namespace

Status writeNewFile(const std::string& path, const std::string& data, int mode) {
  return writeAndSync(path, data, mode);
}

Status writeFileReplacing(const std::string& path, const std::string& data, int mode) {
  const std::string tmp = tmpName(path);
  if (auto st = writeAndSync(tmp, data, mode, /*sync=*/false); !st) {
    return st;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Error e = errnoError("rename", path);
    ::unlink(tmp.c_str());
    return e;
  }
  return Status::ok();
}

Status writeFileAtomic(const std::string& path, const std::string& data, int mode) {
  const std::string tmp = tmpName(path);
  if (auto st = writeAndSync(tmp, data, mode); !st) {
    return st;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Error e = errnoError("rename", path);
    ::unlink(tmp.c_str());
    return e;
  }
  return fsyncDir(dirOf(path));
}

Status replaceSymlink(const std::string& target, const std::string& link) {
  const std::string tmp = tmpName(link);
  if (::symlink(target.c_str(), tmp.c_str()) != 0) {
    return errnoError("symlink", tmp);
  }
  if (::rename(tmp.c_str(), link.c_str()) != 0) {
    Error e = errnoError("rename", link);
    ::unlink(tmp.c_str());
    return e;
  }
  return fsyncDir(dirOf(link));
}

Status makeDirs(const std::string& dir, int mode) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Error::io("mkdir " + dir + ": " + ec.message());
  }
  ::chmod(dir.c_str(), static_cast<mode_t>(mode));
  return Status::ok();
}

Status removeTree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) {
    return Error::io("remove " + path + ": " + ec.message());
  }
  return Status::ok();
}

Result<std::vector<std::string>> listDir(const std::string& dir) {
  std::error_code ec;
  std::vector<std::string> names;
  for (auto it = std::filesystem::directory_iterator(dir, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  if (ec) {
    return Error::io("list " + dir + ": " + ec.message());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string absolutePath(const std::string& path) {
  if (path.empty() || path[0] == '/') {
    return path;
  }
  char buf[4096];
  if (::getcwd(buf, sizeof buf) == nullptr) {
    return path;
  }
  std::string base(buf);
  std::string rel = path;
  while (rel.rfind("./", 0) == 0) {
    rel.erase(0, 2);
  }
  if (rel == ".") {
    return base;
  }
  return (base == "/" ? "" : base) + "/" + rel;
}

}  // namespace mlb::common
