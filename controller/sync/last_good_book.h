#pragma once
// The last good service of each (app id, port index): what a port is served from while
// it is quarantined (a bad label, a template HAProxy rejects, a fragment the reloader
// refused). Kept in place from pass to pass: most keys stay at their places, most
// services are the same shared Service, so recording a pass costs a comparison of
// addresses and the places that changed.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "controller/model/service.h"

namespace mlb::controller {

class LastGoodBook {
 public:
  // A pass published `services` (sorted by app id): each becomes its key's last good
  // service, except those `keep_old` names (quarantined now: the old one stays). Keys
  // not served any more are forgotten.
  void record(const std::vector<ServiceRef>& services,
              const std::function<bool(const Service&)>& keep_old);
  // The app's kept services, by port index; `port_index` < 0: every port of the app.
  std::vector<ServiceRef> of(const std::string& app_id, int port_index = -1) const;
  size_t size() const { return kept_.size(); }

 private:
  struct KeyLess {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      const int c = std::string_view(a.first).compare(std::string_view(b.first));
      return c < 0 || (c == 0 && a.second < b.second);
    }
  };
  struct Kept {
    ServiceRef svc;
    uint64_t stamp = 0;  // the last record() that served or kept it
  };
  using Map = std::map<std::pair<std::string, int>, Kept, KeyLess>;
  bool recordInPlace(const std::vector<ServiceRef>& services);

  Map kept_;
  uint64_t stamp_ = 0;
  // The entry of each service of the last record, by place; not placed_ when a key
  // was not kept under its own service (quarantined) or came twice.
  std::vector<Map::iterator> by_place_;
  bool placed_ = false;               // by_place_ is that of the last record
  std::vector<const Service*> last_;  // the service at each place (held by its entry)
};

}  // namespace mlb::controller
