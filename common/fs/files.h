#pragma once
// Small POSIX file helpers with LevelDB's discipline: anything another process may
// read is written to a temporary name, fsynced, then renamed into place.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace mlb::common {

// The error of a failed call on `path`, from errno: "what path: strerror" (NotFound for
// ENOENT, else Io).
Error errnoError(const std::string& what, const std::string& path);

// Reads a whole file. Error (Io/NotFound) names the path and errno text.
Result<std::string> readFile(const std::string& path);
// A file's bytes followed by `padding` zero bytes, in a buffer that is never
// zero-filled first: for parsers that read past the end (simdjson) of large inputs.
struct PaddedText {
  std::unique_ptr<char[]> bytes;
  size_t size = 0;      // the file's length
  size_t capacity = 0;  // size + padding
  std::string_view view() const { return {bytes.get(), size}; }
};
Result<PaddedText> readFilePadded(const std::string& path, size_t padding);

// A large regular file mapped read-only (no copy, no zero-filled buffer: the page
// cache's pages), followed by `padding` readable zero bytes. The file must not shrink
// while it is mapped (a read past its new end is SIGBUS): for one-shot inputs such as
// `mlb render --apps`. Other files (small, not regular) are read with readFilePadded.
class MappedText {
 public:
  MappedText() = default;
  MappedText(MappedText&& o) noexcept { *this = std::move(o); }
  MappedText& operator=(MappedText&& o) noexcept;
  MappedText(const MappedText&) = delete;
  MappedText& operator=(const MappedText&) = delete;
  ~MappedText();
  std::string_view view() const { return {data_, size_}; }
  size_t capacity() const { return capacity_; }

 private:
  friend Result<MappedText> mapFilePadded(const std::string& path, size_t padding);
  void unmap();
  const char* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
  size_t mapped_ = 0;  // bytes to munmap (0: `read_` holds the bytes)
  PaddedText read_;
};
Result<MappedText> mapFilePadded(const std::string& path, size_t padding);
// Writes `data` to `path` atomically (tmp file in the same directory, fsync, rename,
// fsync of the directory). A reader sees the old content or the new one.
Status writeFileAtomic(const std::string& path, const std::string& data, int mode = 0644);
// The same without the fsyncs: a reader sees the old content or the new one, but a
// crash may lose the new one. For one-shot outputs (`mlb render --out`), where an
// fsync cost more CPU on these VMs than rendering 100 apps.
Status writeFileReplacing(const std::string& path, const std::string& data, int mode = 0644);
// Writes `data` to a new file `path` (O_EXCL) and fsyncs it; no rename. For files
// inside a directory that is itself renamed into place afterwards.
Status writeNewFile(const std::string& path, const std::string& data, int mode = 0644);
// fsync(2) of a directory, so that renames in it are durable.
Status fsyncDir(const std::string& dir);
// Points the symlink `link` at `target` atomically (symlink at a temp name, rename).
Status replaceSymlink(const std::string& target, const std::string& link);
// mkdir -p.
Status makeDirs(const std::string& dir, int mode = 0755);
// Removes a directory tree; missing is not an error.
Status removeTree(const std::string& path);
// `path` made absolute against the working directory ("" stays ""); lexical only.
std::string absolutePath(const std::string& path);
// Names (not paths) of the entries of a directory, sorted.
Result<std::vector<std::string>> listDir(const std::string& dir);

}  // namespace mlb::common
