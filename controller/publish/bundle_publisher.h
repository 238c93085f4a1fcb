#pragma once
// Publishes bundles into the shared state directory (docs/architecture.md):
//   <state>/bundles/<version>/{haproxy.cfg, domain2backend.map, app2backend.map, manifest.json}
//   <state>/current -> bundles/<version>   (swapped by rename(2) of a symlink)
// A bundle whose configuration differs from the last one written whole only in some
// of its pieces (servers of a few backends: a task event) carries haproxy.cfg.edits,
// the edits of that base, instead of haproxy.cfg (common/fs/config_edits.h): it costs
// the pieces that changed, not the cluster. A base is never pruned while a bundle
// kept refers to it.
// A bundle is written under a temporary name, fsynced and renamed, so a reader (the
// reloader) never sees a partial file under a name it reads; a kill -9 at any moment
// leaves at most a `.tmp-*` directory, removed at the next start. Not thread-safe:
// the sync loop is its only user.
#include <map>
#include <string>
#include <vector>

#include "common/fs/config_edits.h"
#include "common/fs/file_system.h"
#include "common/result.h"

namespace mlb::controller {

struct Bundle {
  std::string config;  // the whole text; empty while it is left in pieces (piece_text)
  std::string domain_map;
  std::string app_map;
  // A digest of `config` (RenderedConfig::config_digest, combined from its pieces'
  // digests); empty: SHA-256 of the text.
  std::string config_digest;
  // The pieces of `config` (RenderedConfig::pieces); empty: always written whole.
  std::vector<common::ConfigPiece> pieces;
  // Their text (views the caller keeps alive), when `config` is not joined.
  std::vector<std::string_view> piece_text;

  // Fills `config` from `piece_text` when it is empty (cost: the whole text).
  void join() {
    if (config.empty() && !piece_text.empty()) {
      config = common::joinPieces(piece_text);
    }
  }
};

// The content hash naming a bundle: 16 hex digits of SHA-256 over the digests of its
// files (the configuration's as the renderer combined it).
std::string bundleVersion(const Bundle& bundle);

class BundlePublisher {
 public:
  BundlePublisher(std::string state_dir, int keep_bundles,
                  common::FileSystem& fs = common::realFileSystem());

  // Creates <state>/bundles and removes leftovers of an interrupted publish.
  common::Status init();
  // The version `current` points at, "" when there is none.
  std::string currentVersion() const;
  // The manifest of the current bundle ("" when none).
  std::string currentManifest() const;
  // Writes the bundle (unless bundles/<version> already exists) and points `current`
  // at it. Returns false when `current` already was this version (nothing done).
  common::Result<bool> publish(const std::string& version, const Bundle& bundle,
                               const std::string& manifest_json);
  // Writes the files into a fresh scratch directory (for `haproxy -c`) and returns
  // its path; the caller removes it with removeScratch().
  common::Result<std::string> writeScratch(const Bundle& bundle);
  void removeScratch(const std::string& dir);

  const std::string& stateDir() const { return state_dir_; }
  std::string bundlesDir() const { return state_dir_ + "/bundles"; }

 private:
  // `edits` not empty: written instead of haproxy.cfg. `reuse`: the maps and the Lua
  // service are linked from the last bundle written where they are the same.
  common::Status writeFiles(const std::string& dir, const Bundle& bundle,
                            const std::string& manifest_json, const std::string& edits, bool reuse);
  // Writes `data` as dir/name, or links the same file of the last bundle written.
  common::Status writeOrLink(const std::string& dir, const char* name, const std::string& data,
                             const std::string* last);
  common::Status writeBundleDir(const std::string& version, const Bundle& bundle,
                                const std::string& manifest_json, const std::string& edits);
  common::Status reuse(const std::string& version, const Bundle& bundle,
                       const std::string& manifest_json);
  // The bundle's configuration as edits of the base, or "" to write it whole.
  std::string editsFor(const Bundle& bundle);
  void prune(const std::string& keep_version);
  // The base of a bundle's edits ("" for a whole bundle), remembered once read.
  const std::string& baseOf(const std::string& version);

  // The bundle name a symlink under the state dir points at ("" if none).
  std::string linkTarget(const std::string& link) const;

  std::string state_dir_;
  int keep_bundles_;
  common::FileSystem& fs_;
  unsigned scratch_counter_ = 0;
  // The last bundle written whole: what the next bundles' edits apply to.
  common::EditBase base_;
  std::map<std::string, std::string> bases_;  // version -> base ("" whole), by baseOf
  // The last bundle written, and its maps: a file that is the same is linked from it
  // (a second name costs no data write and no data sync).
  std::string last_version_;
  std::string last_domain_map_, last_app_map_;
};

}  // namespace mlb::controller
