#include "controller/render/config_audit.h"

#include <map>
#include <string_view>
#include <vector>

namespace mlb::controller {
namespace {

struct Line {
  int number = 0;
  std::string_view text;
  bool header = false;
  std::string kind;   // header: its first word; directive: its section's kind
  std::string token;  // first word
  std::string name;   // header: the proxy name ("" for global/defaults)
};

std::string firstWord(std::string_view s) {
  size_t b = s.find_first_not_of(' ');
  if (b == std::string_view::npos) {
    return "";
  }
  size_t e = s.find(' ', b);
  return std::string(s.substr(b, e == std::string_view::npos ? e : e - b));
}

std::vector<Line> splitLines(const std::string& config) {
  std::vector<Line> out;
  std::string kind;
  size_t pos = 0;
  int n = 0;
  while (pos < config.size()) {
    size_t end = config.find('\n', pos);
    if (end == std::string::npos) {
      end = config.size();
    }
    Line l;
    l.number = ++n;
    l.text = std::string_view(config).substr(pos, end - pos);
    pos = end + 1;
    l.header = !l.text.empty() && l.text[0] != ' ';
    l.token = firstWord(l.text);
    if (l.header) {
      kind = l.token;
      size_t sp = l.text.find(' ');
      l.name = sp == std::string_view::npos ? "" : std::string(l.text.substr(sp + 1));
    }
    l.kind = kind;
    out.push_back(l);
  }
  return out;
}

std::set<std::string> serviceSections(const ServiceModel& model) {
  std::set<std::string> s;
  for (const Service& svc : model.services) {
    for (const char* kind : {"backend ", "frontend ", "userlist user_"}) {
      s.insert(kind + svc.backend);
    }
  }
  return s;
}

std::string at(const Line& l, const std::string& what) {
  return "line " + std::to_string(l.number) + ": " + what + ": '" + std::string(l.text) + "'";
}

// A break of the injection property: where and what.
common::Status violation(std::string what) { return common::Error::invalidData(std::move(what)); }

common::Status checkCharacters(const std::string& config) {
  for (size_t i = 0; i < config.size(); ++i) {
    auto c = static_cast<unsigned char>(config[i]);
    if ((c < 0x20 && c != '\n') || c == 0x7f) {
      return violation("control character " + std::to_string(c) + " at byte " + std::to_string(i));
    }
  }
  return {};
}

}  // namespace

Vocabulary collectVocabulary(const std::string& config, const ServiceModel& model) {
  Vocabulary v;
  const auto named = serviceSections(model);
  for (const auto& l : splitLines(config)) {
    if (l.header) {
      const std::string section(l.text);
      if (!named.count(section)) {
        v.fixed_sections.insert(section);
      }
    } else if (!l.token.empty()) {
      v.keywords.insert({l.kind, l.token});
    }
  }
  return v;
}

common::Status auditConfig(const std::string& config, const ServiceModel& model,
                           const Vocabulary& vocab) {
  if (common::Status st = checkCharacters(config); !st) {
    return st;
  }
  const auto named = serviceSections(model);
  std::map<std::string, size_t> expected_servers;
  for (const Service& svc : model.services) {
    expected_servers[svc.backend] = svc.servers.size();
  }
  std::map<std::string, size_t> servers;
  std::set<std::string> seen;
  std::string backend;
  for (const auto& l : splitLines(config)) {
    if (l.header) {
      const std::string section(l.text);
      if (!named.count(section) && !vocab.fixed_sections.count(section)) {
        return violation(at(l, "a section the model does not account for"));
      }
      if (!seen.insert(section).second) {
        return violation(at(l, "a section that appears twice"));
      }
      backend = l.kind == "backend" ? l.name : "";
      continue;
    }
    if (l.token.empty()) {
      continue;
    }
    if (!vocab.keywords.count({l.kind, l.token})) {
      return violation(at(l, "a directive the templates do not use in a " + l.kind + " section"));
    }
    if (l.token == "server" && !backend.empty()) {
      ++servers[backend];
    }
  }
  for (const auto& [name, n] : expected_servers) {
    if (servers[name] != n) {
      return violation("backend " + name + ": " + std::to_string(servers[name]) +
                       " server lines for " + std::to_string(n) + " servers in the model");
    }
  }
  return {};
}

}  // namespace mlb::controller
