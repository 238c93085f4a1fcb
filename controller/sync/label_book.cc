#include "controller/sync/label_book.h"

#include <iterator>
#include <string_view>

namespace mlb::controller {

uint64_t labelsDigest(const MarathonApp& app) {
  // FNV-1a over "key=value\n"...: cheap enough for every app of every pass.
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h = (h ^ c) * 1099511628211ULL;
    }
  };
  for (const auto& [k, v] : app.labels) {
    mix(k);
    mix("=");
    mix(v);
    mix("\n");
  }
  return h;
}

uint64_t LabelBook::digestOf(const std::string& app_id) const {
  auto it = digests_->find(app_id);
  return it == digests_->end() ? 0 : it->second;
}

// Each app's digest in the last update (null: a new app), in parsed.apps' order: both
// are sorted by id, so one walk finds them all.
std::vector<const uint64_t*> LabelBook::priorDigests(const ParsedApps& parsed) const {
  std::vector<const uint64_t*> out(parsed.apps.size(), nullptr);
  auto it = digests_->begin();
  for (size_t i = 0; i < parsed.apps.size(); ++i) {
    const std::string& id = parsed.apps[i].id;
    while (it != digests_->end() && it->first < id) {
      ++it;
    }
    if (it != digests_->end() && it->first == id) {
      out[i] = &it->second;
    }
  }
  return out;
}

// The digest of each app's labels, in parsed.apps' order: computed again only for
// apps whose revision changed since it was last computed.
std::vector<uint64_t> LabelBook::currentDigests(const ParsedApps& parsed,
                                                const std::vector<const uint64_t*>& prior) {
  std::vector<uint64_t> out;
  out.reserve(parsed.apps.size());
  for (size_t i = 0; i < parsed.apps.size(); ++i) {
    const MarathonApp& a = parsed.apps[i];
    auto rev = revision_of_.find(a.id);
    if (a.revision != 0 && rev != revision_of_.end() && rev->second == a.revision &&
        prior[i] != nullptr) {
      out.push_back(*prior[i]);
      continue;
    }
    out.push_back(labelsDigest(a));
    revision_of_[a.id] = a.revision;
  }
  return out;
}

// The same apps in the same places, at most 64 of them at a new revision, each with
// the labels it had: nothing changed.
bool LabelBook::sameAsLast(const ParsedApps& parsed) {
  if (places_.size() != parsed.apps.size()) {
    return false;
  }
  std::vector<size_t> moved;
  for (size_t i = 0; i < parsed.apps.size(); ++i) {
    const uint64_t revision = parsed.apps[i].revision;
    if (revision == 0 || (revision != places_[i].revision && moved.size() == 64)) {
      return false;
    }
    if (revision != places_[i].revision) {
      moved.push_back(i);
    }
  }
  for (size_t i : moved) {
    const MarathonApp& a = parsed.apps[i];
    if (a.id != places_[i].id || labelsDigest(a) != places_[i].digest) {
      return false;
    }
  }
  for (size_t i : moved) {
    places_[i].revision = parsed.apps[i].revision;
  }
  return true;
}

void LabelBook::place(const ParsedApps& parsed, const std::vector<uint64_t>& digests) {
  places_.resize(parsed.apps.size());
  for (size_t i = 0; i < parsed.apps.size(); ++i) {
    places_[i] = {parsed.apps[i].id, parsed.apps[i].revision, digests[i]};
  }
}

LabelBook::Update LabelBook::update(const ParsedApps& parsed) {
  Update u;
  if (sameAsLast(parsed)) {
    return u;
  }
  const std::vector<const uint64_t*> prior = priorDigests(parsed);
  const std::vector<uint64_t> digests = currentDigests(parsed, prior);
  place(parsed, digests);
  u.any = digests_->size() != parsed.apps.size();
  for (size_t i = 0; i < parsed.apps.size(); ++i) {
    u.any = u.any || prior[i] == nullptr || *prior[i] != digests[i];
    if (prior[i] != nullptr && *prior[i] != digests[i]) {
      u.changed.push_back(i);
    }
  }
  if (!u.any) {
    return u;
  }
  auto now = std::make_shared<std::map<std::string, uint64_t>>();
  for (size_t i = 0; i < parsed.apps.size(); ++i) {
    now->emplace(parsed.apps[i].id, digests[i]);
  }
  for (auto it = revision_of_.begin(); it != revision_of_.end();) {
    it = now->count(it->first) ? std::next(it) : revision_of_.erase(it);
  }
  digests_ = std::move(now);
  return u;
}

}  // namespace mlb::controller
