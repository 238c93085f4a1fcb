#include "controller/sync/last_good_book.h"

#include <iterator>
#include <limits>

namespace mlb::controller {

void LastGoodBook::record(const std::vector<ServiceRef>& services,
                          const std::function<bool(const Service&)>& keep_old) {
  if (!keep_old && recordInPlace(services)) {
    return;
  }
  by_place_.clear();
  placed_ = false;
  ++stamp_;
  auto next = kept_.begin();  // the services come nearly in the map's order
  std::vector<Map::iterator> placed;
  bool unique = true;  // no key twice
  for (const ServiceRef& s : services) {
    const std::pair<std::string_view, int> key{s->app_id, s->port_index};
    // An entry holding this very service has its key: no comparison of ids.
    const bool at_next = next != kept_.end() && next->second.svc.get() == s.get();
    auto it = at_next ? next : kept_.lower_bound(key);
    const bool found = at_next || (it != kept_.end() && !KeyLess()(key, it->first));
    if (keep_old && keep_old(*s)) {
      if (found) {
        it->second.stamp = stamp_;
      }
      unique = false;  // (no place of its own: the next record walks)
      continue;
    }
    if (!found) {
      it =
          kept_.emplace_hint(it, std::pair<std::string, int>{s->app_id, s->port_index}, Kept{s, 0});
    } else if (it->second.svc.get() != s.get()) {
      it->second.svc = s;
    }
    unique = unique && it->second.stamp != stamp_;
    it->second.stamp = stamp_;
    placed.push_back(it);
    next = std::next(it);
  }
  for (auto it = kept_.begin(); it != kept_.end();) {
    it = it->second.stamp == stamp_ ? std::next(it) : kept_.erase(it);
  }
  if (unique && placed.size() == services.size()) {
    placed_ = true;
    by_place_ = std::move(placed);
    last_.clear();
    for (const ServiceRef& s : services) {
      last_.push_back(s.get());
    }
  }
}

// The same keys at the same places as at the last record (which kept every service
// under its own key): only the places whose service changed are written.
bool LastGoodBook::recordInPlace(const std::vector<ServiceRef>& services) {
  if (!placed_ || by_place_.size() != services.size()) {
    return false;
  }
  std::vector<size_t> changed;
  for (size_t i = 0; i < services.size(); ++i) {
    if (last_[i] != services[i].get()) {
      const auto& key = by_place_[i]->first;
      if (key.first != services[i]->app_id || key.second != services[i]->port_index) {
        return false;  // (nothing written yet)
      }
      changed.push_back(i);
    }
  }
  for (size_t i : changed) {
    by_place_[i]->second.svc = services[i];
    last_[i] = services[i].get();
  }
  return true;
}

std::vector<ServiceRef> LastGoodBook::of(const std::string& app_id, int port_index) const {
  std::vector<ServiceRef> out;
  for (auto it = kept_.lower_bound(
           std::pair<std::string_view, int>{app_id, std::numeric_limits<int>::min()});
       it != kept_.end() && it->first.first == app_id; ++it) {
    if (port_index < 0 || it->first.second == port_index) {
      out.push_back(it->second.svc);
    }
  }
  return out;
}

}  // namespace mlb::controller
