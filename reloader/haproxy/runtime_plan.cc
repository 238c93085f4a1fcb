#include "reloader/haproxy/runtime_plan.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>
#include <string_view>

#include "common/strings.h"

namespace mlb::reloader {
namespace {

// One section of a configuration as it is in the file: a line at column 0 and the
// indented lines under it. Views into the configuration's text.
struct RawSection {
  std::string_view header;
  std::string_view text;  // the whole section, header included
};

// A section with its lines parsed: only for sections whose text differs.
struct Section {
  std::string header;
  std::vector<std::string> body;  // non-server lines, in order
  std::vector<ServerLine> servers;
};

bool has(const std::vector<std::string>& words, const std::string& w) {
  return std::find(words.begin(), words.end(), w) != words.end();
}

bool parseServer(const std::string& backend, const std::vector<std::string>& w,
                 const std::vector<std::string>& inherited, ServerLine& s) {
  if (w.size() < 3 || w[0] != "server") {
    return false;
  }
  s.backend = backend;
  s.name = w[1];
  s.address = w[2];
  s.inherited = inherited;
  s.disabled = has(inherited, "disabled");
  s.inherited.erase(std::remove(s.inherited.begin(), s.inherited.end(), "disabled"),
                    s.inherited.end());
  for (size_t i = 3; i < w.size(); ++i) {
    if (w[i] == "disabled") {
      s.disabled = true;
    } else {
      s.keywords.push_back(w[i]);
    }
  }
  s.check = (has(s.inherited, "check") || has(s.keywords, "check")) && !has(s.keywords, "no-check");
  s.agent = has(s.inherited, "agent-check") || has(s.keywords, "agent-check");
  return true;
}

// The words of a `default-server` line after the keyword; nothing for other lines.
std::vector<std::string> defaultServerWords(std::string_view line) {
  auto w = common::splitWords(line);
  if (w.empty() || w[0] != "default-server") {
    return {};
  }
  return {w.begin() + 1, w.end()};
}

bool indented(std::string_view line) { return line.empty() || line[0] == ' ' || line[0] == '\t'; }

// Splits a configuration into sections without copying it (lines before the first
// header form a section with an empty header).
std::vector<RawSection> splitSections(std::string_view config) {
  std::vector<RawSection> out;
  size_t start = 0;
  for (size_t pos = 0; pos < config.size();) {
    size_t eol = config.find('\n', pos);
    eol = eol == std::string_view::npos ? config.size() : eol;
    const std::string_view line = config.substr(pos, eol - pos);
    if (!indented(line) && pos > 0) {
      out.back().text = config.substr(start, pos - start);
      start = pos;
    }
    if (!indented(line) || out.empty()) {
      out.push_back({indented(line) ? std::string_view{} : line, {}});
    }
    pos = eol + 1;
  }
  if (!out.empty()) {
    out.back().text = config.substr(start);
  }
  return out;
}

// `inherited`: the `default-server` words of the defaults section in effect.
Section parseSection(const RawSection& raw, std::vector<std::string> inherited = {}) {
  Section sec{std::string(raw.header), {}, {}};
  const bool backend = sec.header.rfind("backend ", 0) == 0;
  const std::string name = backend ? sec.header.substr(8) : "";
  std::string_view rest = raw.text.substr(raw.header.size());
  while (!rest.empty()) {
    size_t eol = std::min(rest.find('\n'), rest.size());
    const std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(std::min(eol + 1, rest.size()));
    ServerLine s;
    if (backend && parseServer(name, common::splitWords(line), inherited, s)) {
      sec.servers.push_back(std::move(s));
    } else {
      sec.body.emplace_back(line);
      const auto more = defaultServerWords(line);
      inherited.insert(inherited.end(), more.begin(), more.end());
    }
  }
  return sec;
}

// The `default-server` words a `defaults` section gives the proxies after it.
std::vector<std::string> defaultsWords(const RawSection& raw) {
  std::vector<std::string> out;
  for (const auto& line : parseSection(raw).body) {
    const auto more = defaultServerWords(line);
    out.insert(out.end(), more.begin(), more.end());
  }
  return out;
}

bool isDefaults(const RawSection& raw) {
  return raw.header == "defaults" || raw.header.rfind("defaults ", 0) == 0;
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
  for (const auto* words : {&s.inherited, &s.keywords}) {
    for (const auto& k : *words) {
      if (kRefused.count(k)) {
        return "server keyword '" + k + "'";
      }
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
  for (const auto& k : s.inherited) {
    out += k + " ";
  }
  out += "| ";
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

// Whether an added server line has a shape some server of the live configuration
// has (then `haproxy -c` has accepted it already). The backend's own live servers
// first: a scaled app's new server looks like its siblings.
class LiveShapes {
 public:
  explicit LiveShapes(const std::vector<RawSection>& live) : live_(live) {}
  bool has(const ServerLine& s, const Section& same_backend) {
    const std::string shape = shapeOf(s);
    for (const auto& o : same_backend.servers) {
      if (shapeOf(o) == shape) {
        return true;
      }
    }
    if (!all_) {
      all_.emplace();
      std::vector<std::string> defaults;
      for (const auto& raw : live_) {
        if (isDefaults(raw)) {
          defaults = defaultsWords(raw);
        }
        for (const auto& o : parseSection(raw, defaults).servers) {
          all_->insert(shapeOf(o));
        }
      }
    }
    return all_->count(shape) > 0;
  }

 private:
  const std::vector<RawSection>& live_;
  std::optional<std::set<std::string>> all_;
};

void markHeldDown(Section& s, const std::set<std::string>& unproven) {
  if (unproven.empty() || s.header.rfind("backend ", 0) != 0) {
    return;
  }
  const std::string be = s.header.substr(8);
  for (auto& srv : s.servers) {
    srv.hold_down = unproven.count(be + "/" + srv.name) > 0;
  }
}

// The runtime commands for one backend whose servers changed; false after reload().
bool planBackend(const Section& live, const Section& next, RuntimePlan& p, LiveShapes& shapes) {
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
      p.needs_validation = p.needs_validation || !shapes.has(*s, live);
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
      // Enabled: UP at once, as a reload that enables it loads it.
      push(p, "set server " + id + (s->disabled ? " state maint" : " state ready"));
      ++p.changed;
    }
  }
  for (const auto& [name, s] : old_by_name) {
    if (!new_by_name.count(name)) {
      if (std::string why = serverUnsafe(*s); !why.empty()) {
        reload(p, "unsafe server", be + "/" + name + ": " + why);
        return false;
      }
      appendRemoveCommands(*s, p);
      p.removals.emplace_back(be, name);
      p.removed_adds.push_back(addCommand(*s));
      ++p.removed;
    }
  }
  return true;
}

}  // namespace

bool heldDown(const ServerLine& s) { return s.hold_down && s.check && !s.agent && !s.disabled; }

std::string addCommand(const ServerLine& s) {
  std::string add = "add server " + s.backend + "/" + s.name + " " + s.address;
  for (const auto* words : {&s.inherited, &s.keywords}) {
    for (const auto& k : *words) {
      add += " " + k;
    }
  }
  return add;
}

void appendAddCommands(const ServerLine& s, RuntimePlan& p) {
  const std::string id = s.backend + "/" + s.name;
  push(p, addCommand(s), RuntimePlan::Expect::Registered);
  if (s.check) {
    push(p, "enable health " + id);
  }
  if (heldDown(s)) {
    // Leaving MAINT puts health at `rise` (UP): through DRAIN, which takes no traffic,
    // to DOWN with health 0; `state ready` from DRAIN keeps the health.
    push(p, "set server " + id + " state drain");
    push(p, "set server " + id + " health down");
  }
  if (!s.disabled) {
    // UP at once with its checks running, as a (re)load brings a server in; a new
    // server starts in MAINT, as `disabled` asks, otherwise.
    push(p, "set server " + id + " state ready");
  }
  if (s.agent) {
    // After `state ready`: leaving MAINT with an agent whose health is not yet at
    // `rise` keeps a server DOWN (a freshly loaded server's agent starts at rise).
    push(p, "enable agent " + id);
  }
}

void appendRemoveCommands(const ServerLine& s, RuntimePlan& p) {
  const std::string id = s.backend + "/" + s.name;
  if (s.agent) {
    push(p, "disable agent " + id);  // an agent's answer could set it ready again
  }
  if (!s.disabled) {
    // Out of rotation, its sessions finish. Never on a server in MAINT: drain would
    // take it out of maintenance (admin 1 -> 8), back into checks and traffic.
    push(p, "set server " + id + " state drain");
  }
}

int configWeight(const ServerLine& s) {
  int weight = 1;
  for (const auto* words : {&s.inherited, &s.keywords}) {
    for (size_t i = 0; i + 1 < words->size(); ++i) {
      if ((*words)[i] == "weight") {
        weight = std::atoi((*words)[i + 1].c_str());
      }
    }
  }
  return weight;
}

namespace {

// The word that ends at `paren` ("map" in "lower,map(").
std::string converterBefore(const std::string& config, size_t paren) {
  size_t b = paren;
  while (b > 0 &&
         (std::isalnum(static_cast<unsigned char>(config[b - 1])) || config[b - 1] == '_')) {
    --b;
  }
  return config.substr(b, paren - b);
}

// The paths under which `config` names the file `name` (".../name" ending at a
// delimiter), each once, with whether every use is a map converter or fetch.
std::map<std::string, bool> pathsOf(const std::string& config, const std::string& name) {
  std::map<std::string, bool> out;
  const std::string needle = "/" + name;
  for (size_t at = config.find(needle); at != std::string::npos; at = config.find(needle, at + 1)) {
    const size_t end = at + needle.size();
    if (end < config.size() &&
        std::string_view(")}, \t\n").find(config[end]) == std::string::npos) {
      continue;  // a longer name
    }
    const size_t start = config.find_last_of("(, \t\n", at) + 1;
    const bool as_map = start > 0 && config[start - 1] == '(' &&
                        converterBefore(config, start - 1).rfind("map", 0) == 0;
    auto [it, inserted] = out.emplace(config.substr(start, end - start), as_map);
    it->second = it->second && as_map;
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> mapEntries(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& line : common::splitExact(text, '\n')) {
    const std::string t = common::trim(line);
    if (t.empty() || t[0] == '#') {
      continue;
    }
    const size_t gap = t.find_first_of(" \t");
    const std::string key = t.substr(0, gap);
    out.emplace_back(key, gap == std::string::npos ? "" : common::trim(t.substr(gap)));
  }
  return out;
}

}  // namespace

bool planMapUpdate(const std::string& config, const std::string& name, const std::string& text,
                   RuntimePlan& p) {
  const auto paths = pathsOf(config, name);
  if (paths.empty()) {
    return true;  // not loaded: nothing serves it
  }
  auto entries = mapEntries(text);
  for (const auto& [k, v] : entries) {
    if ((k + v).find(';') != std::string::npos) {
      reload(p, "map entry with ';'", name);
      return false;
    }
  }
  for (const auto& [path, as_map] : paths) {
    if (!as_map) {
      reload(p, "bundle file changed", name);
      return false;
    }
    p.maps.push_back({path, entries});
  }
  p.kind = RuntimePlan::Kind::Runtime;
  return true;
}

std::vector<ServerLine> serverLines(const std::string& config, const std::set<std::string>& only) {
  std::vector<ServerLine> out;
  std::vector<std::string> defaults;
  for (const auto& raw : splitSections(config)) {
    if (isDefaults(raw)) {
      defaults = defaultsWords(raw);
    }
    if (raw.header.rfind("backend ", 0) != 0 ||
        (!only.empty() && !only.count(std::string(raw.header.substr(8))))) {
      continue;
    }
    for (auto& s : parseSection(raw, defaults).servers) {
      out.push_back(std::move(s));
    }
  }
  return out;
}

RuntimePlan planRuntime(const std::string& live_config, const std::string& new_config,
                        size_t max_changes, const std::set<std::string>& unproven) {
  RuntimePlan p;
  if (live_config == new_config) {
    return p;
  }
  const auto live = splitSections(live_config);
  const auto next = splitSections(new_config);
  if (live.size() != next.size()) {
    reload(p, "sections changed", "");
    return p;
  }
  LiveShapes shapes(live);
  std::vector<std::string> defaults;  // the same in both: a changed defaults section reloads
  for (size_t i = 0; i < live.size(); ++i) {
    if (isDefaults(live[i]) && live[i].text == next[i].text) {
      defaults = defaultsWords(live[i]);
    }
    if (live[i].text == next[i].text) {
      continue;  // the common case: a few backends differ among thousands
    }
    const Section a = parseSection(live[i], defaults);
    Section b = parseSection(next[i], defaults);
    markHeldDown(b, unproven);
    if (a.header != b.header || a.body != b.body || a.header.rfind("backend ", 0) != 0) {
      // Anything but a backend's server lines, blank lines included: a reload.
      reload(p, "configuration changed", b.header);
      return p;
    }
    if (a.servers.size() == b.servers.size() &&
        std::equal(a.servers.begin(), a.servers.end(), b.servers.begin(),
                   [](const ServerLine& x, const ServerLine& y) {
                     return x.name == y.name && x.address == y.address &&
                            x.keywords == y.keywords && x.disabled == y.disabled;
                   })) {
      continue;  // the same servers, written differently (blanks): nothing to do
    }
    if (std::string why = backendUnsafe(a); !why.empty()) {
      reload(p, why, a.header);
      return p;
    }
    const size_t before = p.added + p.removed + p.changed;
    if (!planBackend(a, b, p, shapes)) {
      return p;
    }
    if (p.added + p.removed + p.changed > before) {
      p.backends.insert(a.header.substr(8));
    }
  }
  if (p.added + p.removed + p.changed > max_changes) {
    reload(p, "too many server changes for one batch",
           std::to_string(p.added + p.removed + p.changed));
    return p;
  }
  // A removed server in MAINT needs no command now, only its delete later.
  p.kind = p.commands.empty() && p.removals.empty() ? RuntimePlan::Kind::Nothing
                                                    : RuntimePlan::Kind::Runtime;
  return p;
}

}  // namespace mlb::reloader
