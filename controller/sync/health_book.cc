#include "controller/sync/health_book.h"

#include <algorithm>

namespace mlb::controller {

void HealthBook::read(const MarathonApp& app, AppHealth& entry) {
  checked_ -= entry.checked;
  lost_ -= entry.lost;
  std::vector<std::string> old = std::move(entry.tasks);
  entry = AppHealth{app.revision, epoch_, {}, 0, 0};
  if (!app.health_checks.empty()) {
    entry.tasks.reserve(app.tasks.size());
    for (const auto& t : app.tasks) {
      ++entry.checked;
      if (t.health_results == 0) {
        entry.lost += tasks_.count(t.id);  // unknown now, known before: keeps its value
      } else {
        tasks_[t.id] = t.any_alive;
      }
      entry.tasks.push_back(t.id);
    }
  }
  if (!old.empty()) {
    std::vector<std::string_view> now(entry.tasks.begin(), entry.tasks.end());
    std::sort(now.begin(), now.end());
    for (const auto& id : old) {
      if (!std::binary_search(now.begin(), now.end(), std::string_view(id))) {
        tasks_.erase(id);
      }
    }
  }
  checked_ += entry.checked;
  lost_ += entry.lost;
}

void HealthBook::update(const ParsedApps& parsed) {
  ++epoch_;
  for (const auto& app : parsed.apps) {
    AppHealth& entry = apps_[app.id];
    if (entry.epoch != 0 && app.revision != 0 && entry.revision == app.revision) {
      entry.epoch = epoch_;
      continue;
    }
    read(app, entry);
  }
  for (auto it = apps_.begin(); it != apps_.end();) {
    if (it->second.epoch == epoch_) {
      ++it;
      continue;
    }
    for (const auto& id : it->second.tasks) {
      tasks_.erase(id);
    }
    checked_ -= it->second.checked;
    lost_ -= it->second.lost;
    it = apps_.erase(it);
  }
}

std::optional<bool> HealthBook::known(const std::string& task_id) const {
  auto it = tasks_.find(task_id);
  return it == tasks_.end() ? std::nullopt : std::optional<bool>(it->second);
}

}  // namespace mlb::controller
