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
  std::vector<Kept> now;
  now.reserve(services.size());
  for (size_t i = 0; i < services.size(); ++i) {
    Kept* was = i < by_place_.size() ? &by_place_[i] : nullptr;
    if (was != nullptr && was->service.get() == services[i].get()) {
      now.push_back(std::move(*was));
      was->ids.clear();  // (moved on: not removed below)
      continue;
    }
    now.push_back({services[i], unprovenOf(*services[i])});
    for (const auto& id : now.back().ids) {
      add(id);
    }
  }
  for (const Kept& k : by_place_) {  // those not moved on
    for (const auto& id : k.ids) {
      remove(id);
    }
  }
  by_place_ = std::move(now);
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
