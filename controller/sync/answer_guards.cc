#include "controller/sync/answer_guards.h"

namespace mlb::controller {

const char* guardName(Guard g) {
  switch (g) {
    case Guard::Empty:
      return "empty";
    case Guard::Shrink:
      return "shrink";
    case Guard::HealthUnknown:
      return "health_unknown";
    case Guard::None:
      break;
  }
  return "";
}

void AnswerGuards::serving(size_t apps, size_t servers) {
  have_baseline_ = true;
  apps_ = apps;
  servers_ = servers;
}

Guard AnswerGuards::trips(const AnswerSize& a) const {
  if (have_baseline_ && apps_ > 0 && a.apps == 0) {
    return Guard::Empty;
  }
  if (have_baseline_ && servers_ >= 4 &&
      static_cast<double>(a.servers) <
          static_cast<double>(servers_) * (1.0 - options_.max_shrink)) {
    return Guard::Shrink;
  }
  if (a.checked_tasks >= 4 && a.lost_tasks * 2 > a.checked_tasks) {
    return Guard::HealthUnknown;
  }
  return Guard::None;
}

AnswerGuards::Verdict AnswerGuards::check(const AnswerSize& a) {
  const Guard guard = trips(a);
  held_count_ = guard != Guard::None && guard == held_ ? held_count_ + 1 : 1;
  held_ = guard;
  if (guard == Guard::None || held_count_ >= options_.confirm) {
    held_ = Guard::None;  // confirmed: the next trip starts counting again
    held_count_ = 0;
    return {};
  }
  return {guard, std::string("answer held (") + guardName(guard) + ": " + std::to_string(a.apps) +
                     " apps, " + std::to_string(a.servers) + " servers, previously " +
                     std::to_string(apps_) + " apps, " + std::to_string(servers_) +
                     " servers); confirmation " + std::to_string(held_count_) + "/" +
                     std::to_string(options_.confirm)};
}

}  // namespace mlb::controller
