#include "common/haproxy/config_check.h"

#include <regex>

namespace mlb::common {

std::vector<HaproxyAlert> parseAlerts(std::string_view output) {
  std::vector<HaproxyAlert> out;
  static const std::regex kLine(R"(\[[^\]\s]+:(\d+)\])");
  size_t pos = 0;
  while (pos < output.size()) {
    const size_t end = output.find('\n', pos);
    const std::string line(
        output.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos));
    pos = end == std::string_view::npos ? output.size() : end + 1;
    if (line.find("[ALERT]") == std::string::npos) {
      continue;
    }
    int n = 0;
    std::smatch m;
    if (std::regex_search(line, m, kLine) && m[1].length() < 10) {
      n = std::stoi(m[1].str());
    }
    out.push_back({n, line});
  }
  return out;
}

std::string alertSummary(std::string_view output) {
  std::string keep;
  for (const auto& a : parseAlerts(output)) {
    keep += (keep.empty() ? "" : "\n") + a.text;
  }
  return keep.empty() ? std::string(output.substr(0, 500)) : keep;
}

Result<ConfigCheck> checkConfig(ProcessRunner& runner, const std::string& haproxy_bin,
                                const std::string& config_path, std::chrono::milliseconds timeout) {
  auto r = runner.run({haproxy_bin, "-c", "-f", config_path}, timeout);
  if (!r) {
    return r.error();
  }
  ConfigCheck c;
  c.output = r->err + r->out;
  c.exit_code = r->exit_code;
  c.term_signal = r->term_signal;
  const bool verdict = r->term_signal == 0 && r->exit_code == 1 && !parseAlerts(c.output).empty();
  c.outcome = r->timed_out ? ConfigCheck::Outcome::kTimedOut
              : r->ok()    ? ConfigCheck::Outcome::kValid
              : verdict    ? ConfigCheck::Outcome::kInvalid
                           : ConfigCheck::Outcome::kFailed;
  return c;
}

}  // namespace mlb::common
