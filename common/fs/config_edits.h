#pragma once
// A bundle's configuration is stored whole (<bundle>/haproxy.cfg) or as edits of a
// whole one's, its base (<bundle>/haproxy.cfg.edits): the byte ranges of the base's
// text that changed, each with the SHA-256 of the bytes it replaces, so that the edits
// apply to that one text only (docs/architecture.md, "Bundles"). A task event changes
// one backend: its bundle costs that backend's bytes, not the cluster's.
//
//   mlb-config-edits 1
//   base <version> <size of the base's text>
//   edit <offset> <replaced length> <sha256 hex of the replaced bytes> <length>
//   <length bytes of replacement text>
//   ...
//   end
//
// Pure functions, except readBundleConfig and materializeBundleConfig (files).
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/fs/file_system.h"
#include "common/hash.h"
#include "common/result.h"

namespace mlb::common {

inline constexpr const char* kConfigEditsFile = "haproxy.cfg.edits";

// A piece of a rendered configuration: the bytes [begin, end) and their digest.
struct ConfigPiece {
  size_t begin = 0;
  size_t end = 0;
  Sha256 sha{};
};

struct ConfigEdit {
  size_t offset = 0;      // in the base's text
  size_t old_length = 0;  // bytes replaced
  Sha256 old_sha{};       // of the bytes replaced
  std::string_view text;  // what replaces them
};

struct ConfigEdits {
  std::string base;  // the base bundle's version
  size_t base_size = 0;
  std::vector<ConfigEdit> edits;  // ascending, not overlapping
};

// What a configuration was, for the edits of the next ones: its bundle and pieces.
struct EditBase {
  std::string version;
  size_t size = 0;
  std::vector<ConfigPiece> pieces;
};

// The edits turning `base`'s text into the configuration of `pieces` (the text of
// piece i: texts[i]), or false when the pieces do not line up one to one with the
// base's, or when the replaced text would exceed `max_bytes`. The views are `texts`'.
bool editsFromBase(const EditBase& base, const std::vector<ConfigPiece>& pieces,
                   const std::vector<std::string_view>& texts, size_t max_bytes, ConfigEdits& out);
// The text of each piece of `config`.
std::vector<std::string_view> pieceTexts(std::string_view config,
                                         const std::vector<ConfigPiece>& pieces);
// The configuration the pieces' texts make.
std::string joinPieces(const std::vector<std::string_view>& texts);

std::string formatConfigEdits(const ConfigEdits& edits);
// The views of the result point into `file`.
Result<ConfigEdits> parseConfigEdits(std::string_view file);
// Whether the edits apply to `base`: its size, their order and bounds, and the digest
// of each range they replace; the error says which.
Status checkConfigEdits(std::string_view base, const ConfigEdits& edits);
// The base's text with the edits applied; an error when `base` is not the text they
// were made for (checkConfigEdits).
Result<std::string> applyConfigEdits(std::string_view base, const ConfigEdits& edits);

// The configuration of the bundle directory `dir` (under <state>/bundles, or a symlink
// to one: current, live): its haproxy.cfg, or its base's (a sibling) with its edits.
Result<std::string> readBundleConfig(const std::string& dir, FileSystem& fs = realFileSystem());
// The base the bundle's edits name, "" for a whole bundle (or unreadable edits).
std::string bundleBase(const std::string& dir, FileSystem& fs = realFileSystem());
// Writes <dir>/haproxy.cfg from the edits (synced, renamed into place) when it is
// absent, for the readers that need a file (HAProxy, haproxy -c).
Status materializeBundleConfig(const std::string& dir, FileSystem& fs = realFileSystem());

}  // namespace mlb::common
