#include "reloader/haproxy/runtime_plan.h"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "common/strings.h"

namespace mlb::reloader {
namespace {

struct Section {
  std::string header;
  std::vector<std::string> body;  // non-server lines, in order
  std::vector<ServerLine> servers;
};

bool parseServer(const std::string& backend, const std::vector<std::string>& w, ServerLine& s) {
  if (w.size() < 3 || w[0] != "server") {
    return false;
  }
  s.backend = backend;
  s.name = w[1];
  s.address = w[2];
  for (size_t i = 3; i < w.size(); ++i) {
    if (w[i] == "disabled") {
      s.disabled = true;
    } else {
      s.check = s.check || w[i] == "check";
      s.keywords.push_back(w[i]);
    }
  }
  return true;
}

std::vector<Section> parseSections(const std::string& config) {
  std::vector<Section> out;
  std::istringstream in(config);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] != ' ' && line[0] != '\t') {
      out.push_back({line, {}, {}});
      continue;
    }
    if (out.empty()) {
      out.push_back({"", {}, {}});
    }
    Section& sec = out.back();
    auto w = common::splitWords(line);
    ServerLine s;
    if (sec.header.rfind("backend ", 0) == 0 && parseServer(sec.header.substr(8), w, s)) {
      sec.servers.push_back(std::move(s));
    } else {
      sec.body.push_back(line);
    }
  }
  return out;
}

// Why the servers of this backend cannot change at runtime on HAProxy 2.6, or "".
std::string backendUnsafe(const Section& sec) {
  bool consistent = false;
  std::string balance = "roundrobin";
  for (const auto& line : sec.body) {
    auto w = common::splitWords(line);
    if (w.empty()) {
      continue;
    }
    if (w[0] == "cookie") {
      return "cookie persistence";
    }
    if (w[0] == "use-server") {
      return "use-server rule";
    }
    if (w[0] == "hash-type" && w.size() > 1 && w[1] == "consistent") {
      consistent = true;
    }
    if (w[0] == "balance" && w.size() > 1) {
      balance = w[1];
    }
  }
  if (balance == "static-rr") {
    return "static-rr balancing";
  }
  static const char* const kHashed[] = {"source", "uri", "url_param", "hdr(", "rdp-cookie"};
  for (const char* h : kHashed) {
    if (balance.rfind(h, 0) == 0 && !consistent) {
      return "map-based hashing";
    }
  }
  return "";
}

// Keywords a dynamic server refuses on 2.6 (and `track`: a tracked server can never
// be deleted, a dynamic one never tracked).
std::string serverUnsafe(const ServerLine& s) {
  static const std::set<std::string> kRefused = {"cookie", "track",     "resolvers", "init-addr",
                                                 "redir",  "namespace", "enabled"};
  for (const auto& k : s.keywords) {
    if (kRefused.count(k)) {
      return "server keyword '" + k + "'";
    }
  }
  if (std::find(s.keywords.begin(), s.keywords.end(), "id") == s.keywords.end()) {
    return "server without an explicit id";
  }
  return "";
}

// The server line with its per-server values masked (name, address, id value).
std::string shapeOf(const ServerLine& s) {
  std::string out;
  bool mask = false;
  for (const auto& k : s.keywords) {
    out += (mask ? "*" : k) + " ";
    mask = k == "id";
  }
  return out + (s.disabled ? "disabled" : "");
}

void reload(RuntimePlan& p, const std::string& cls, const std::string& detail) {
  p = RuntimePlan{};
  p.kind = RuntimePlan::Kind::Reload;
  p.reason_class = cls;
  p.reason = cls + (detail.empty() ? "" : ": " + detail);
}

void push(RuntimePlan& p, std::string cmd, RuntimePlan::Expect e = RuntimePlan::Expect::Empty) {
  p.commands.push_back(std::move(cmd));
  p.expect.push_back(e);
}

// The runtime commands for one backend whose servers changed; false after reload().
bool planBackend(const Section& live, const Section& next, RuntimePlan& p,
                 const std::set<std::string>& live_shapes) {
  std::map<std::string, const ServerLine*> old_by_name, new_by_name;
  for (const auto& s : live.servers) {
    old_by_name[s.name] = &s;
  }
  for (const auto& s : next.servers) {
    new_by_name[s.name] = &s;
  }
  const std::string be = live.header.substr(8);
  for (const auto& [name, s] : new_by_name) {
    auto old = old_by_name.find(name);
    if (old == old_by_name.end()) {
      if (std::string why = serverUnsafe(*s); !why.empty()) {
        reload(p, "unsafe server", be + "/" + name + ": " + why);
        return false;
      }
      p.needs_validation = p.needs_validation || !live_shapes.count(shapeOf(*s));
      appendAddCommands(*s, p);
      ++p.added;
      continue;
    }
    const ServerLine& o = *old->second;
    if (o.address != s->address || o.keywords != s->keywords) {
      reload(p, "server changed in place", be + "/" + name);
      return false;
    }
    if (o.disabled != s->disabled) {
      const std::string id = be + "/" + name;
      if (s->disabled) {
        push(p, "set server " + id + " state maint");
      } else {
        push(p, "set server " + id + " state ready");
        if (s->check) {
          push(p, "set server " + id + " health down");
        }
      }
      ++p.changed;
    }
  }
  for (const auto& [name, s] : old_by_name) {
    if (!new_by_name.count(name)) {
      if (std::string why = serverUnsafe(*s); !why.empty()) {
        reload(p, "unsafe server", be + "/" + name + ": " + why);
        return false;
      }
      push(p, "set server " + be + "/" + name + " state drain");
      p.removals.emplace_back(be, name);
      ++p.removed;
    }
  }
  return true;
}

}  // namespace

void appendAddCommands(const ServerLine& s, RuntimePlan& p) {
  const std::string id = s.backend + "/" + s.name;
  std::string add = "add server " + id + " " + s.address;
  for (const auto& k : s.keywords) {
    add += " " + k;
  }
  push(p, add, RuntimePlan::Expect::Registered);
  if (s.check) {
    push(p, "enable health " + id);
  }
  if (s.disabled) {
    return;  // a new server starts in MAINT, as `disabled` asks
  }
  push(p, "set server " + id + " state ready");
  if (s.check) {
    // Leaving MAINT makes it "UP, one failure from DOWN": held down until `rise`
    // checks pass, a dead task never gets a request.
    push(p, "set server " + id + " health down");
  }
}

std::vector<ServerLine> serverLines(const std::string& config) {
  std::vector<ServerLine> out;
  for (auto& sec : parseSections(config)) {
    for (auto& s : sec.servers) {
      out.push_back(std::move(s));
    }
  }
  return out;
}

RuntimePlan planRuntime(const std::string& live_config, const std::string& new_config,
                        size_t max_changes) {
  RuntimePlan p;
  if (live_config == new_config) {
    return p;
  }
  const auto live = parseSections(live_config);
  const auto next = parseSections(new_config);
  if (live.size() != next.size()) {
    reload(p, "sections changed", "");
    return p;
  }
  std::set<std::string> live_shapes;
  for (const auto& sec : live) {
    for (const auto& s : sec.servers) {
      live_shapes.insert(shapeOf(s));
    }
  }
  for (size_t i = 0; i < live.size(); ++i) {
    const Section& a = live[i];
    const Section& b = next[i];
    if (a.header != b.header || a.body != b.body) {
      reload(p, "configuration changed", b.header);
      return p;
    }
    if (a.servers.size() == b.servers.size() &&
        std::equal(a.servers.begin(), a.servers.end(), b.servers.begin(),
                   [](const ServerLine& x, const ServerLine& y) {
                     return x.name == y.name && x.address == y.address &&
                            x.keywords == y.keywords && x.disabled == y.disabled;
                   })) {
      continue;
    }
    if (std::string why = backendUnsafe(a); !why.empty()) {
      reload(p, why, a.header);
      return p;
    }
    if (!planBackend(a, b, p, live_shapes)) {
      return p;
    }
  }
  if (p.added + p.removed + p.changed > max_changes) {
    reload(p, "too many server changes for one batch",
           std::to_string(p.added + p.removed + p.changed));
    return p;
  }
  p.kind = p.commands.empty() ? RuntimePlan::Kind::Nothing : RuntimePlan::Kind::Runtime;
  return p;
}

}  // namespace mlb::reloader
