#pragma once
// The manifest's "unproven" list: "backend/server" of each server HAProxy should hold
// DOWN until its own checks pass (the reloader adds them so, and starts them so at a
// reload), sorted. Kept from pass to pass: a service that is the same shared Service
// at the same place as at the last pass is not read again, and the list's JSON text
// is kept while no service's unproven servers changed, so a pass costs the services
// that changed, not the cluster's servers.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "controller/model/service.h"

namespace mlb::controller {

class UnprovenBook {
 public:
  // The list of `services` (the model's, in its order) as a JSON array.
  const std::string& json(const std::vector<ServiceRef>& services);

 private:
  struct Kept {
    std::optional<ServiceRef> service;
    std::vector<std::string> ids;
    bool holds(const ServiceRef& s) const { return service && service->get() == s.get(); }
  };
  // `kept` now holds `service` and its ids.
  void replace(Kept& kept, std::optional<ServiceRef> service);
  void add(const std::string& id);
  void remove(const std::string& id);

  std::vector<Kept> by_place_;
  std::map<std::string, std::pair<int, std::string>> all_;  // id -> (count, JSON string)
  bool changed_ = true;
  std::string json_;
};

}  // namespace mlb::controller
