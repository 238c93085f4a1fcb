#pragma once
// Each app's labels digest across passes: what the reloader's verdicts are keyed by (an
// app the reloader rejected is retried when its labels change) and what tells a label
// change from a task change (the fragment from before a label change is kept until a
// version carrying it is applied). An app at an unchanged revision keeps its digest
// unread; the usual task event (a few apps at new revisions with the same labels, in
// the same places of the answer) is told without a lookup by id.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "controller/model/marathon_app.h"

namespace mlb::controller {

// A digest of an app's labels (stable within a process).
uint64_t labelsDigest(const MarathonApp& app);

class LabelBook {
 public:
  struct Update {
    // Indices in parsed.apps of the apps known before whose labels changed.
    std::vector<size_t> changed;
    // Any change of the digests: a label changed, an app came or went.
    bool any = false;
  };
  // Brings the book to `parsed` (sorted by id, as ParsedApps is).
  Update update(const ParsedApps& parsed);
  // App id -> digest as of the last update. Replaced, never modified: a holder keeps
  // the digests of its time.
  const std::shared_ptr<const std::map<std::string, uint64_t>>& digests() const { return digests_; }
  // The app's digest as of the last update, or 0 when it has none.
  uint64_t digestOf(const std::string& app_id) const;

 private:
  std::vector<const uint64_t*> priorDigests(const ParsedApps& parsed) const;
  std::vector<uint64_t> currentDigests(const ParsedApps& parsed,
                                       const std::vector<const uint64_t*>& prior);
  bool sameAsLast(const ParsedApps& parsed);
  void place(const ParsedApps& parsed, const std::vector<uint64_t>& digests);

  std::shared_ptr<const std::map<std::string, uint64_t>> digests_ =
      std::make_shared<const std::map<std::string, uint64_t>>();
  std::unordered_map<std::string, uint64_t> revision_of_;  // the revision each was read at
  // The last update's apps, in the answer's order.
  struct Place {
    std::string id;
    uint64_t revision = 0;
    uint64_t digest = 0;
  };
  std::vector<Place> places_;
};

}  // namespace mlb::controller
