#include "controller/render/mlb_globals.h"

#include <sstream>
#include <vector>

#include "common/strings.h"

namespace mlb::controller {
namespace {

bool has(const std::vector<std::string>& w, const std::string& a, const std::string& b) {
  for (size_t i = 0; i + 1 < w.size(); ++i) {
    if (w[i] == a && w[i + 1] == b) {
      return true;
    }
  }
  return false;
}

}  // namespace

common::Result<std::string> withMlbGlobals(const std::string& head, const std::string& state_dir) {
  const std::string sock = state_dir + "/stats.sock";
  std::istringstream in(head);
  bool in_global = false, seen_global = false, has_sock = false, has_state = false;
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    const auto w = common::splitWords(line);
    if (!line.empty() && line[0] != ' ' && line[0] != '\t' && line[0] != '#') {
      in_global = !w.empty() && w[0] == "global";
      seen_global = seen_global || in_global;
      continue;
    }
    if (!in_global || w.empty()) {
      continue;
    }
    if (w.size() >= 3 && w[0] == "stats" && w[1] == "socket" && w[2] == sock) {
      if (!has(w, "level", "admin") || !has(w, "expose-fd", "listeners")) {
        return common::Error::invalidTemplate(
            "template HAPROXY_HEAD, line " + std::to_string(n) + ": mlb's stats socket " + sock +
            " needs 'level admin expose-fd listeners' (the Runtime API and the socket "
            "transfer of a handover use it)");
      }
      has_sock = true;
    }
    has_state = has_state || (!w.empty() && w[0] == "server-state-file");
  }
  if (!seen_global) {
    return common::Error::invalidTemplate(
        "template HAPROXY_HEAD has no 'global' section: mlb's stats socket goes there");
  }
  std::string add;
  if (!has_sock) {
    add += "  stats socket " + sock + " mode 600 level admin expose-fd listeners\n";
  }
  if (!has_state) {
    add += "  server-state-file " + state_dir + "/server-state\n";
  }
  if (add.empty()) {
    return head;
  }
  // Right after the first `global` line: a template's own lines keep their order.
  size_t at = 0;
  for (size_t pos = 0; pos < head.size();) {
    const size_t eol = head.find('\n', pos);
    const std::string line = head.substr(pos, eol == std::string::npos ? eol : eol - pos);
    pos = eol == std::string::npos ? head.size() : eol + 1;
    const auto w = common::splitWords(line);
    if (!line.empty() && line[0] != ' ' && line[0] != '\t' && !w.empty() && w[0] == "global") {
      at = pos;
      break;
    }
  }
  std::string out = head;
  if (at > 0 && out[at - 1] != '\n') {
    add = "\n" + add;
  }
  out.insert(at, add);
  return out;
}

std::string withLogTarget(const std::string& head, const std::string& target) {
  const bool stream = target == "stdout" || target == "stderr";
  std::istringstream in(head);
  std::string out;
  bool in_global = false;
  bool logged = false;
  for (std::string line; std::getline(in, line);) {
    const auto w = common::splitWords(line);
    if (!line.empty() && line[0] != ' ' && line[0] != '\t' && line[0] != '#') {
      in_global = !w.empty() && w[0] == "global";
    } else if (in_global && w.size() >= 2 && w[0] == "log" && stream && logged) {
      continue;  // one stream gets each line once (local1 notice repeated local0's)
    } else if (in_global && w.size() >= 2 && w[0] == "log") {
      logged = true;
      std::string rest;
      bool has_format = false;
      for (size_t i = 2; i < w.size(); ++i) {
        has_format = has_format || w[i] == "format";
        rest += " " + w[i];
      }
      line = "  log " + target + (stream && !has_format ? " format raw" : "") + rest;
    }
    out += line + "\n";
  }
  if (!head.empty() && head.back() != '\n') {
    out.pop_back();
  }
  return out;
}

}  // namespace mlb::controller
