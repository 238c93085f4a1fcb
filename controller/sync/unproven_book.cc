#include "controller/sync/unproven_book.h"

#include <nlohmann/json.hpp>

namespace mlb::controller {
namespace {

std::vector<std::string> unprovenOf(const Service& s) {
  std::vector<std::string> ids;
  if (!s.health_check) {
    return ids;  // (a server is unproven only under a health check: service_builder.cc)
  }
  for (const auto& srv : s.servers) {
    if (srv.unproven) {
      ids.push_back(s.backend + "/" + srv.name);
    }
  }
  return ids;
}

}  // namespace

const std::string& UnprovenBook::json(const std::vector<ServiceRef>& services) {
  if (services.size() == by_place_.size()) {
    for (size_t i = 0; i < services.size(); ++i) {  // in place: pointers compared
      if (!by_place_[i].holds(services[i])) {
        replace(by_place_[i], services[i]);
      }
    }
  } else {
    for (Kept& k : by_place_) {
      replace(k, std::nullopt);
    }
    by_place_.assign(services.size(), Kept{});
    for (size_t i = 0; i < services.size(); ++i) {
      replace(by_place_[i], services[i]);
    }
  }
  if (changed_) {
    json_ = "[";
    for (const auto& [id, kept] : all_) {
      for (int n = 0; n < kept.first; ++n) {
        json_.append(json_.size() > 1 ? "," : "").append(kept.second);
      }
    }
    json_ += "]";
    changed_ = false;
  }
  return json_;
}

void UnprovenBook::replace(Kept& kept, std::optional<ServiceRef> service) {
  for (const auto& id : kept.ids) {
    remove(id);
  }
  kept.ids = service ? unprovenOf(**service) : std::vector<std::string>{};
  kept.service = std::move(service);
  for (const auto& id : kept.ids) {
    add(id);
  }
}

void UnprovenBook::add(const std::string& id) {
  auto [it, added] = all_.try_emplace(id, 0, std::string());
  if (added) {
    it->second.second =
        nlohmann::json(id).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  ++it->second.first;
  changed_ = true;
}

void UnprovenBook::remove(const std::string& id) {
  auto it = all_.find(id);
  if (it != all_.end() && --it->second.first == 0) {
    all_.erase(it);
  }
  changed_ = true;
}

}  // namespace mlb::controller
