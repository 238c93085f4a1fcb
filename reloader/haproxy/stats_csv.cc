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

// The first `n` comma-separated fields of `line`, each followed by a comma. HAProxy
// quotes nothing in its CSV and no name it allows contains a comma.
std::string firstFields(const std::string& line, size_t n) {
  size_t pos = 0;
  for (size_t i = 0; i < n; ++i) {
    const size_t comma = line.find(',', pos);
    if (comma == std::string::npos) {
      return line.back() == ',' ? line : line + ",";
    }
    pos = comma + 1;
  }
  return line.substr(0, pos);
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
