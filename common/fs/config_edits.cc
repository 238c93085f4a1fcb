#include "common/fs/config_edits.h"

#include <unistd.h>

#include <charconv>
#include <chrono>

#include "common/strings.h"

namespace mlb::common {

namespace {

constexpr std::string_view kMagic = "mlb-config-edits 1\n";

Error bad(const std::string& why) { return Error{ErrorCode::InvalidArgument, why}; }

// Reads the next line of `in` (without its '\n') into `line`; false at the end.
bool nextLine(std::string_view& in, std::string_view& line) {
  const auto nl = in.find('\n');
  if (nl == std::string_view::npos) {
    return false;
  }
  line = in.substr(0, nl);
  in.remove_prefix(nl + 1);
  return true;
}

// Canonical decimal only (no sign, no leading zero): one spelling per file.
bool number(std::string_view s, size_t& out) {
  if (s.size() > 1 && s[0] == '0') {
    return false;
  }
  const auto* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, out);
  return !s.empty() && ec == std::errc() && p == end;
}

bool digest(std::string_view hex, Sha256& out) {
  if (hex.size() != out.size() * 2 || hex.find_first_not_of("0123456789abcdef") != hex.npos) {
    return false;
  }
  for (size_t i = 0; i < out.size(); ++i) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(hex.data() + 2 * i, hex.data() + 2 * i + 2, v, 16);
    if (ec != std::errc() || p != hex.data() + 2 * i + 2) {
      return false;
    }
    out[i] = static_cast<unsigned char>(v);
  }
  return true;
}

// A version names a sibling directory: nothing that leaves bundles/.
bool versionName(std::string_view v) {
  return !v.empty() && v.size() <= 64 && v.find_first_not_of("0123456789abcdef") == v.npos;
}

Result<ConfigEdit> parseEdit(std::string_view& in, std::string_view header) {
  const auto w = splitExact(header, ' ');
  ConfigEdit e;
  size_t length = 0;
  if (w.size() != 5 || w[0] != "edit" || !number(w[1], e.offset) || !number(w[2], e.old_length) ||
      !digest(w[3], e.old_sha) || !number(w[4], length)) {
    return bad("bad edit line '" + std::string(header.substr(0, 120)) + "'");
  }
  if (length >= in.size() || in[length] != '\n') {
    return bad("an edit's text is cut short");
  }
  e.text = in.substr(0, length);
  in.remove_prefix(length + 1);
  return e;
}

std::string parentDir(const std::string& dir) {
  const auto slash = dir.find_last_of('/');
  return slash == std::string::npos ? "." : dir.substr(0, slash);
}

// `dir` itself, or where it points when it is a symlink (current, live), so that its
// parent is the bundles directory.
std::string resolved(const std::string& dir, FileSystem& fs) {
  const std::string target = fs.readLink(dir);
  if (target.empty()) {
    return dir;
  }
  return target[0] == '/' ? target : parentDir(dir) + "/" + target;
}

}  // namespace

std::vector<std::string_view> pieceTexts(std::string_view config,
                                         const std::vector<ConfigPiece>& pieces) {
  std::vector<std::string_view> out;
  out.reserve(pieces.size());
  for (const auto& p : pieces) {
    out.push_back(config.substr(p.begin, p.end - p.begin));
  }
  return out;
}

std::string joinPieces(const std::vector<std::string_view>& texts) {
  size_t size = 0;
  for (auto t : texts) {
    size += t.size();
  }
  std::string out;
  out.reserve(size);
  for (auto t : texts) {
    out.append(t);
  }
  return out;
}

bool editsFromBase(const EditBase& base, const std::vector<ConfigPiece>& pieces,
                   const std::vector<std::string_view>& texts, size_t max_bytes, ConfigEdits& out) {
  if (base.version.empty() || base.pieces.size() != pieces.size() ||
      texts.size() != pieces.size()) {
    return false;
  }
  out = ConfigEdits{base.version, base.size, {}};
  size_t bytes = 0;
  for (size_t i = 0; i < pieces.size(); ++i) {
    const ConfigPiece& was = base.pieces[i];
    const ConfigPiece& now = pieces[i];
    if (was.sha == now.sha && was.end - was.begin == now.end - now.begin) {
      continue;
    }
    bytes += now.end - now.begin;
    if (bytes > max_bytes) {
      return false;
    }
    out.edits.push_back({was.begin, was.end - was.begin, was.sha, texts[i]});
  }
  return true;
}

std::string formatConfigEdits(const ConfigEdits& edits) {
  size_t size = 64;
  for (const auto& e : edits.edits) {
    size += e.text.size() + 120;
  }
  std::string out;
  out.reserve(size);
  out.append(kMagic);
  out.append("base ").append(edits.base).append(" ").append(std::to_string(edits.base_size));
  out.push_back('\n');
  for (const auto& e : edits.edits) {
    out.append("edit ").append(std::to_string(e.offset)).append(" ");
    out.append(std::to_string(e.old_length)).append(" ").append(hexOf(e.old_sha)).append(" ");
    out.append(std::to_string(e.text.size())).append("\n");
    out.append(e.text).append("\n");
  }
  out.append("end\n");
  return out;
}

Result<ConfigEdits> parseConfigEdits(std::string_view in) {
  if (in.substr(0, kMagic.size()) != kMagic) {
    return bad("not an mlb-config-edits file");
  }
  in.remove_prefix(kMagic.size());
  std::string_view line;
  ConfigEdits out;
  const auto head = nextLine(in, line) ? splitExact(line, ' ') : std::vector<std::string>{};
  if (head.size() != 3 || head[0] != "base" || !versionName(head[1]) ||
      !number(head[2], out.base_size)) {
    return bad("bad base line");
  }
  out.base = std::string(head[1]);
  while (nextLine(in, line)) {
    if (line == "end") {
      return in.empty() ? Result<ConfigEdits>(std::move(out)) : bad("bytes after the end");
    }
    auto e = parseEdit(in, line);
    if (!e) {
      return e.error();
    }
    out.edits.push_back(*e);
  }
  return bad("no end line (a cut file)");
}

Status checkConfigEdits(std::string_view base, const ConfigEdits& edits) {
  if (base.size() != edits.base_size) {
    return bad("the base " + edits.base + " has " + std::to_string(base.size()) +
               " bytes, the edits were made for " + std::to_string(edits.base_size));
  }
  size_t at = 0;
  for (const auto& e : edits.edits) {
    if (e.offset < at || e.offset > base.size() || e.old_length > base.size() - e.offset) {
      return bad("edits out of order or past the end of the base");
    }
    at = e.offset + e.old_length;
  }
  for (const auto& e : edits.edits) {
    if (sha256(base.substr(e.offset, e.old_length)) != e.old_sha) {
      return bad("the base " + edits.base + " differs at byte " + std::to_string(e.offset) +
                 " from the text the edits replace");
    }
  }
  return Status::ok();
}

Result<std::string> applyConfigEdits(std::string_view base, const ConfigEdits& edits) {
  if (auto st = checkConfigEdits(base, edits); !st) {
    return st.error();
  }
  size_t size = base.size();
  for (const auto& e : edits.edits) {
    size = size - e.old_length + e.text.size();
  }
  std::string out;
  out.reserve(size);
  size_t at = 0;
  for (const auto& e : edits.edits) {
    out.append(base.substr(at, e.offset - at)).append(e.text);
    at = e.offset + e.old_length;
  }
  out.append(base.substr(at));
  return out;
}

Result<std::string> readBundleConfig(const std::string& link_or_dir, FileSystem& fs) {
  const std::string dir = resolved(link_or_dir, fs);
  auto whole = fs.readFile(dir + "/haproxy.cfg");
  if (whole) {
    return whole;
  }
  auto file = fs.readFile(dir + "/" + kConfigEditsFile);
  if (!file) {
    return whole.error();  // neither: the error of the usual file
  }
  auto edits = parseConfigEdits(*file);
  if (!edits) {
    return Error{ErrorCode::InvalidArgument,
                 dir + "/" + kConfigEditsFile + ": " + edits.error().message};
  }
  auto base = fs.readFile(parentDir(dir) + "/" + edits->base + "/haproxy.cfg");
  if (!base) {
    return Error{ErrorCode::NotFound, "the base bundle " + edits->base + " of " + dir +
                                          " cannot be read: " + base.error().message};
  }
  return applyConfigEdits(*base, *edits);
}

std::string bundleBase(const std::string& dir, FileSystem& fs) {
  auto file = fs.readFile(dir + "/" + kConfigEditsFile);
  if (!file) {
    return "";
  }
  auto edits = parseConfigEdits(*file);
  return edits ? edits->base : "";
}

Status materializeBundleConfig(const std::string& dir, FileSystem& fs) {
  if (fs.modified(dir + "/haproxy.cfg") || !fs.modified(dir + "/" + kConfigEditsFile)) {
    return Status::ok();  // whole already (or nothing to build it from: readers say so)
  }
  auto text = readBundleConfig(dir, fs);
  if (!text) {
    return text.error();
  }
  // A name of its own (the entrypoint and the watcher may both write it out, from
  // containers where both are pid 1): created exclusively, never someone else's.
  const std::string tmp =
      dir + "/.haproxy.cfg.tmp-" + std::to_string(::getpid()) + "-" +
      std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  if (auto st = fs.writeNewFile(tmp, *text); !st) {
    return st;
  }
  if (auto st = fs.rename(tmp, dir + "/haproxy.cfg"); !st) {
    (void)fs.unlink(tmp);
    return st;
  }
  return fs.fsyncDir(dir);  // the name survives a power loss with `live` pointing here
}

}  // namespace mlb::common
