#include "reloader/haproxy/stats_csv.h"

#include <sstream>
#include <vector>

namespace mlb::reloader {
namespace {

std::vector<std::string> splitFields(const std::string& line) {
  std::vector<std::string> out;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, ',')) {
    out.push_back(field);
  }
  return out;
}

// How many leading columns 2.0 had, from the header ("# pxname,svname,...,").
size_t keptColumns(const std::string& header) {
  const auto names = splitFields(header.rfind("# ", 0) == 0 ? header.substr(2) : header);
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == "need_conn_est") {
      return i + 1;
    }
  }
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == "-") {
      return i;
    }
  }
  return names.size();
}

// Where field `n` of `line` starts (after `n` separating commas), or npos. HAProxy
// quotes a field that holds a comma or a quote ("a,b", a quote doubled), e.g. a check's
// reason or a server's description, so commas inside quotes do not count.
size_t fieldStart(const std::string& line, size_t n) {
  bool quoted = false;
  size_t seen = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '"') {
      quoted = !quoted;  // a doubled quote toggles twice
    } else if (line[i] == ',' && !quoted && ++seen == n) {
      return i + 1;
    }
  }
  return std::string::npos;
}

// The first `n` fields of `line`, each followed by a comma.
std::string firstFields(const std::string& line, size_t n) {
  const size_t end = fieldStart(line, n);
  if (end == std::string::npos) {
    return line.empty() || line.back() == ',' ? line : line + ",";
  }
  return line.substr(0, end);
}

}  // namespace

std::string haproxy20StatsCsv(const std::string& csv) {
  std::istringstream in(csv);
  std::string line;
  std::string out;
  size_t n = 0;
  bool header_seen = false;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    if (line.empty()) {
      continue;
    }
    if (!header_seen) {
      header_seen = true;
      n = keptColumns(line);
    }
    out += firstFields(line, n) + "\n";
  }
  return out;
}

}  // namespace mlb::reloader
