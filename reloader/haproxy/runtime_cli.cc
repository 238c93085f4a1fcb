#include "reloader/haproxy/runtime_cli.h"

#include <nlohmann/json.hpp>
#include <sstream>

#include "common/strings.h"
#include "reloader/haproxy/master_cli.h"

namespace mlb::reloader {
namespace {

std::vector<std::string> fields(const std::string& line, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : line) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  out.push_back(cur);
  return out;
}

}  // namespace

std::vector<std::string> splitBatchReplies(const std::string& output) {
  std::vector<std::string> replies;
  std::string cur;
  size_t pos = 0;
  while (pos < output.size()) {
    size_t end = output.find('\n', pos);
    std::string line = output.substr(pos, end == std::string::npos ? end : end - pos);
    pos = end == std::string::npos ? output.size() : end + 1;
    if (line.empty()) {
      replies.push_back(cur);
      cur.clear();
    } else {
      cur += (cur.empty() ? "" : "\n") + line;
    }
  }
  if (!cur.empty()) {
    replies.push_back(cur);
  }
  return replies;
}

common::Status checkReplies(const std::vector<std::string>& commands,
                            const std::vector<RuntimePlan::Expect>& expect,
                            const std::vector<std::string>& replies) {
  if (replies.size() > commands.size()) {
    return common::Error::invalidData("more replies than commands: '" + replies.back() + "'");
  }
  for (size_t i = 0; i < commands.size(); ++i) {
    // A batch whose last command answered nothing may end without its empty line.
    const std::string reply = i < replies.size() ? replies[i] : std::string();
    if (i >= replies.size() &&
        !(i + 1 == commands.size() && expect[i] == RuntimePlan::Expect::Empty)) {
      return common::Error::invalidData("'" + commands[i] + "': no reply");
    }
    const bool ok = expect[i] == RuntimePlan::Expect::Registered ? reply == "New server registered."
                                                                 : reply.empty();
    if (!ok) {
      return common::Error::invalidData("'" + commands[i] + "': " + reply);
    }
  }
  return {};
}

common::Result<std::vector<std::string>> runBatch(const std::string& socket_path,
                                                  const std::vector<std::string>& commands,
                                                  int timeout_ms) {
  std::string line;
  for (const auto& c : commands) {
    if (c.find_first_of(";\n") != std::string::npos) {
      return common::Error::invalidArgument("a runtime command with ';' or a line break");
    }
    line += (line.empty() ? "" : "; ") + c;
  }
  auto out = masterCommand(socket_path, line, timeout_ms);
  if (!out) {
    return out.error();
  }
  return splitBatchReplies(*out);
}

std::map<std::pair<std::string, std::string>, RuntimeServer> parseServersState(
    const std::string& text) {
  std::map<std::pair<std::string, std::string>, RuntimeServer> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    auto w = common::splitWords(line);
    // be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state ... srv_port (19)
    if (w.size() < 19) {
      continue;
    }
    RuntimeServer s;
    s.backend_id = std::atoi(w[0].c_str());
    s.address = w[4] + ":" + w[18];
    s.op_state = std::atoi(w[5].c_str());
    s.admin_state = std::atoi(w[6].c_str());
    s.weight = std::atoi(w[7].c_str());
    out[{w[1], w[3]}] = s;
  }
  return out;
}

std::map<std::pair<std::string, std::string>, long> parseServerLoad(const std::string& csv) {
  std::map<std::pair<std::string, std::string>, long> out;
  std::istringstream in(csv);
  int qcur = -1, scur = -1;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# ", 0) == 0) {
      auto f = fields(line.substr(2), ',');
      for (size_t i = 0; i < f.size(); ++i) {
        qcur = f[i] == "qcur" ? static_cast<int>(i) : qcur;
        scur = f[i] == "scur" ? static_cast<int>(i) : scur;
      }
      continue;
    }
    auto f = fields(line, ',');
    if (qcur < 0 || scur < 0 || f.size() <= static_cast<size_t>(std::max(qcur, scur)) ||
        f[1] == "BACKEND" || f[1] == "FRONTEND") {
      continue;
    }
    out[{f[0], f[1]}] = std::atol(f[static_cast<size_t>(qcur)].c_str()) +
                        std::atol(f[static_cast<size_t>(scur)].c_str());
  }
  return out;
}

namespace {

// `show servers state` fields (HAProxy 2.6, version 1 of the format).
enum StateField : size_t {
  kOpState = 5,
  kAdminState = 6,
  kUserWeight = 7,
  kPort = 18,
  kStateFields = 19,
};
constexpr int kAdminMaint = 0x01 | 0x02 | 0x20;  // forced, inherited, resolution
constexpr int kConfigDisabled = 0x01 | 0x04;     // what a fresh load of `disabled` shows: 5
constexpr int kOpRunning = 2;
constexpr int kAdminByCli = 0x01 | 0x08;  // forced MAINT, forced DRAIN

// One state line of a server the new configuration has, rewritten so that the loader
// gives it the admin state its line asks (`disabled` or not) and a server in rotation
// comes back running when nothing but MAINT stopped it; health states survive.
std::string rewriteStateLine(std::vector<std::string> w, const ServerLine& s) {
  const int was_admin = std::atoi(w[kAdminState].c_str());
  w[kAdminState] = std::to_string(s.disabled ? kConfigDisabled : 0);
  if (!s.disabled && (!s.check || (was_admin & kAdminMaint) != 0)) {
    w[kOpState] = std::to_string(kOpRunning);  // as a fresh load brings it in
  }
  w[kUserWeight] = std::to_string(configWeight(s));
  std::string out;
  for (const auto& f : w) {
    out += (out.empty() ? "" : " ") + f;
  }
  return out;
}

// The state line of a new server held DOWN until its checks pass: stopped, health 0,
// check status "initialising" (with "unknown", 2.6 never checks it), the configured
// weight, id, port and `ssl` (the loader applies them).
std::string heldDownStateLine(const ServerLine& s, const std::string& be_id) {
  const size_t colon = s.address.rfind(':');
  std::string ip = s.address.substr(0, colon);
  if (ip.size() > 1 && ip.front() == '[' && ip.back() == ']') {
    ip = ip.substr(1, ip.size() - 2);
  }
  const std::string port = colon == std::string::npos ? "0" : s.address.substr(colon + 1);
  std::string id = "0";
  bool ssl = false;
  for (const auto* words : {&s.inherited, &s.keywords}) {
    for (size_t i = 0; i < words->size(); ++i) {
      id = (*words)[i] == "id" && i + 1 < words->size() ? (*words)[i + 1] : id;
      ssl = (*words)[i] == "ssl" || (ssl && (*words)[i] != "no-ssl");
    }
  }
  const std::string weight = std::to_string(configWeight(s));
  return be_id + " " + s.backend + " " + id + " " + s.name + " " + ip + " 0 0 " + weight + " " +
         weight + " 0 1 0 0 6 0 0 " + (id == "0" ? "0" : "1") + " - " + port + " - " +
         (ssl ? "1" : "0") + " 0 - - 0";
}

}  // namespace

std::string filterServersState(const std::string& text, const std::string& config,
                               const std::set<std::string>& unproven) {
  std::map<std::pair<std::string, std::string>, ServerLine> servers;
  for (auto& s : serverLines(config)) {
    s.hold_down = unproven.count(s.backend + "/" + s.name) > 0;
    servers[{s.backend, s.name}] = std::move(s);
  }
  std::set<std::pair<std::string, std::string>> present;
  std::map<std::string, std::string> backend_ids;
  std::string out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    auto w = common::splitWords(line);
    if (!line.empty() && line[0] != '#' && w.size() >= kStateFields) {
      present.insert({w[1], w[3]});
      backend_ids[w[1]] = w[0];
      auto it = servers.find({w[1], w[3]});
      if (it != servers.end() && it->second.address != w[4] + ":" + w[kPort]) {
        continue;  // moved: the state file would put the old address back
      }
      if (it != servers.end()) {
        // A held-down add cut short (MAINT or DRAIN from the CLI): started as held.
        const bool cut_short = (std::atoi(w[kAdminState].c_str()) & kAdminByCli) != 0;
        line = heldDown(it->second) && cut_short ? heldDownStateLine(it->second, w[0])
                                                 : rewriteStateLine(std::move(w), it->second);
      }
    }
    out += line + "\n";
  }
  for (const auto& [key, s] : servers) {
    if (heldDown(s) && !present.count(key) && !out.empty()) {
      auto be = backend_ids.find(s.backend);
      out += heldDownStateLine(s, be == backend_ids.end() ? "0" : be->second) + "\n";
    }
  }
  return out;
}

std::set<std::string> unprovenOf(const std::string& manifest_json) {
  std::set<std::string> out;
  auto j = nlohmann::json::parse(manifest_json, nullptr, false);
  if (j.is_object() && j.contains("unproven") && j["unproven"].is_array()) {
    for (const auto& e : j["unproven"]) {
      if (e.is_string()) {
        out.insert(e.get<std::string>());
      }
    }
  }
  return out;
}

namespace {
class UnixSockets final : public HaproxySockets {
 public:
  common::Result<std::string> command(const std::string& socket_path, const std::string& command,
                                      int timeout_ms) override {
    return masterCommand(socket_path, command, timeout_ms);
  }
  common::Result<std::vector<std::string>> batch(const std::string& socket_path,
                                                 const std::vector<std::string>& commands,
                                                 int timeout_ms) override {
    return runBatch(socket_path, commands, timeout_ms);
  }
};
}  // namespace

HaproxySockets& unixSockets() {
  static UnixSockets sockets;
  return sockets;
}

}  // namespace mlb::reloader
