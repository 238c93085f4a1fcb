#include "controller/sync/health_book.h"

#include <algorithm>
#include <string_view>

namespace mlb::controller {

void HealthBook::uncount(AppHealth& entry) {
  if (entry.present) {
    checked_ -= entry.checked;
    lost_ -= entry.lost;
    entry.present = false;
  }
}

void HealthBook::read(const MarathonApp& app, AppHealth& entry) {
  uncount(entry);
  std::vector<std::string> before = std::move(entry.tasks);
  entry.tasks.clear();
  entry.revision = app.revision;
  entry.epoch = epoch_;
  entry.checked = entry.lost = 0;
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
  // What it listed before and lists no more is forgotten at commit(); what it lists
  // again is not.
  std::vector<std::string_view> now(entry.tasks.begin(), entry.tasks.end());
  std::sort(now.begin(), now.end());
  auto listed = [&now](const std::string& id) {
    return std::binary_search(now.begin(), now.end(), std::string_view(id));
  };
  entry.left.erase(std::remove_if(entry.left.begin(), entry.left.end(), listed), entry.left.end());
  for (auto& id : before) {
    if (!listed(id)) {
      entry.left.push_back(std::move(id));
    }
  }
  if (!entry.left.empty()) {
    to_commit_.insert(app.id);
  }
  entry.present = true;
  checked_ += entry.checked;
  lost_ += entry.lost;
}

void HealthBook::update(const ParsedApps& parsed) {
  ++epoch_;
  // The last answer's entries by position: an app at the same place with the same
  // revision is the same app as read then (revisions are unique), found without a
  // lookup. (Entries of the last answer are present, so commit() kept them.)
  const bool same_places = by_place_.size() == parsed.apps.size();
  by_place_.resize(parsed.apps.size());
  for (size_t i = 0; i < parsed.apps.size(); ++i) {
    const MarathonApp& app = parsed.apps[i];
    AppHealth* entry = same_places ? by_place_[i] : nullptr;
    if (entry == nullptr || app.revision == 0 || entry->revision != app.revision) {
      entry = &apps_[app.id];
    }
    by_place_[i] = entry;
    if (entry->present && app.revision != 0 && entry->revision == app.revision) {
      entry->epoch = epoch_;
      continue;
    }
    read(app, *entry);
  }
  if (apps_.size() == parsed.apps.size()) {
    return;  // every app known is in this answer (ids are unique)
  }
  for (auto& [id, entry] : apps_) {
    if (entry.epoch != epoch_ && entry.present) {
      uncount(entry);
      to_commit_.insert(id);
    }
  }
}

void HealthBook::commit() {
  for (const auto& id : to_commit_) {
    auto it = apps_.find(id);
    if (it == apps_.end()) {
      continue;
    }
    AppHealth& entry = it->second;
    for (const auto& t : entry.left) {
      tasks_.erase(t);
    }
    entry.left.clear();
    if (!entry.present) {
      for (const auto& t : entry.tasks) {
        tasks_.erase(t);
      }
      apps_.erase(it);
    }
  }
  to_commit_.clear();
}

std::optional<bool> HealthBook::known(const std::string& task_id) const {
  auto it = tasks_.find(task_id);
  return it == tasks_.end() ? std::nullopt : std::optional<bool>(it->second);
}

}  // namespace mlb::controller
