#include "reloader/haproxy/fd_budget.h"

#include <cstdlib>
#include <string_view>

namespace mlb::reloader {
namespace {

constexpr long kMargin = 256;

std::string_view trimmed(std::string_view line) {
  size_t b = line.find_first_not_of(" \t");
  if (b == std::string_view::npos) {
    return {};
  }
  size_t e = line.find_last_not_of(" \t\r");
  return line.substr(b, e - b + 1);
}

}  // namespace

FdBudget planFdBudget(const std::string& config) {
  FdBudget b;
  bool in_global = false;
  size_t pos = 0;
  while (pos < config.size()) {
    size_t end = config.find('\n', pos);
    if (end == std::string::npos) {
      end = config.size();
    }
    std::string_view raw(config.data() + pos, end - pos);
    pos = end + 1;
    const bool section = !raw.empty() && raw[0] != ' ' && raw[0] != '\t';
    std::string_view line = trimmed(raw);
    if (section) {
      in_global = line == "global";
      continue;
    }
    if (in_global && line.substr(0, 8) == "maxconn ") {
      b.maxconn = std::strtol(std::string(line.substr(8)).c_str(), nullptr, 10);
    } else if (line.substr(0, 7) == "server ") {
      ++b.servers;
    }
  }
  if (b.maxconn > 0) {
    b.needed = 2 * b.maxconn + b.servers + kMargin;
  }
  return b;
}

std::string fdBudgetProblem(const FdBudget& budget, long hard) {
  if (budget.needed == 0 || hard < 0 || hard >= budget.needed) {
    return "";
  }
  const long fit = (hard - budget.servers - kMargin) / 2;
  return "HAProxy needs about " + std::to_string(budget.needed) +
         " file descriptors (2 x maxconn " + std::to_string(budget.maxconn) + " + " +
         std::to_string(budget.servers) + " servers + " + std::to_string(kMargin) +
         ") but the open-files limit here is " + std::to_string(hard) +
         ": lower mlb-controller's --maxconn to at most " + std::to_string(fit > 0 ? fit : 0) +
         ", or raise the container's nofile limit (docker run --ulimit nofile=N:N)";
}

}  // namespace mlb::reloader
