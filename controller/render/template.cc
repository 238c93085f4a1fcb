#include "controller/render/template.h"

#include <algorithm>
#include <kainjow/mustache.hpp>
#include <unordered_map>

namespace mlb::controller {
namespace {

constexpr std::array<std::string_view, kVarCount> kNames = {
    "backend",
    "appId",
    "cleanedUpAppId",
    "hostname",
    "cleanedUpHostname",
    "mode",
    "balance",
    "bindAddr",
    "servicePort",
    "sslCert",
    "bindOptions",
    "sslCerts",
    "bindOpts",
    "name",
    "host",
    "user",
    "passwd",
    "realm",
    "path",
    "haproxy_dir",
    "proxypath",
    "rootpath",
    "redirpath",
    "network_allowed",
    "host_ipv4",
    "port",
    "serverName",
    "serverId",
    "cookieOptions",
    "healthCheckOptions",
    "otherOptions",
    "healthCheckPortIndex",
    "healthCheckPort",
    "healthCheckProtocol",
    "healthCheckPath",
    "healthCheckTimeoutSeconds",
    "healthCheckIntervalSeconds",
    "healthCheckGracePeriodSeconds",
    "healthCheckMaxConsecutiveFailures",
    "healthCheckFalls",
    "healthCheckPortOptions",
    "stateDir",
    "maxconn",
    "hardStopAfter",
    "defaultOptions",
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

std::string_view varName(Var v) { return kNames[static_cast<size_t>(v)]; }

std::optional<Var> varByName(std::string_view name) {
  static const std::unordered_map<std::string_view, Var> index = [] {
    std::unordered_map<std::string_view, Var> m;
    for (size_t i = 0; i < kVarCount; ++i) {
      m.emplace(kNames[i], static_cast<Var>(i));
    }
    return m;
  }();
  auto it = index.find(name);
  if (it == index.end()) {
    return std::nullopt;
  }
  return it->second;
}

common::Result<Template> Template::compile(std::string_view text) {
  Template t;
  t.text_ = std::string(text);
  {
    kainjow::mustache::mustache m{t.text_};
    if (!m.is_valid()) {
      return common::Error::invalidTemplate("mustache: " + m.error_message());
    }
  }
  bool fast = true;
  std::string literal;
  size_t i = 0;
  bool delimiters_changed = false;
  while (i < text.size()) {
    size_t open = text.find("{{", i);
    if (open == std::string_view::npos || delimiters_changed) {
      literal.append(text.substr(i));
      break;
    }
    literal.append(text.substr(i, open - i));
    bool triple = open + 2 < text.size() && text[open + 2] == '{';
    size_t body_start = open + (triple ? 3 : 2);
    size_t close = text.find(triple ? "}}}" : "}}", body_start);
    if (close == std::string_view::npos) {
      return common::Error::invalidTemplate("mustache: unclosed tag at " + std::to_string(open));
    }
    std::string_view body = trim(text.substr(body_start, close - body_start));
    i = close + (triple ? 3 : 2);
    char sigil = body.empty() ? '\0' : body.front();
    if (!triple && (sigil == '!')) {
      continue;  // comment
    }
    if (!triple && sigil == '=') {
      fast = false;
      delimiters_changed = true;  // names after this point are not ours to scan
      continue;
    }
    if (!triple && sigil == '>') {
      return common::Error::invalidTemplate("mustache: partials are not supported ('" +
                                            std::string(body) + "')");
    }
    bool section = !triple && (sigil == '#' || sigil == '^' || sigil == '/');
    if (!triple && (sigil == '&' || section)) {
      body = trim(body.substr(1));
    }
    auto var = varByName(body);
    if (!var) {
      return common::Error::invalidTemplate("unknown placeholder '" + std::string(body) + "'");
    }
    if (section) {
      fast = false;
      if (sigil != '/') {
        t.used_.push_back(*var);
      }
      continue;
    }
    t.used_.push_back(*var);
    t.segments_.push_back({std::move(literal), *var});
    literal.clear();
  }
  if (!literal.empty()) {
    t.segments_.push_back({std::move(literal), std::nullopt});
  }
  std::sort(t.used_.begin(), t.used_.end());
  t.used_.erase(std::unique(t.used_.begin(), t.used_.end()), t.used_.end());
  t.fast_ = fast;
  if (!fast) {
    t.segments_.clear();
  }
  return t;
}

common::Status Template::render(const Vars& vars, std::string& out) const {
  for (Var v : used_) {
    if (!vars.has(v)) {
      return common::Error::invalidTemplate("template uses {{" + std::string(varName(v)) +
                                            "}}, which has no value here");
    }
  }
  if (!fast_) {
    return renderWithKainjow(vars, out);
  }
  for (const auto& seg : segments_) {
    out.append(seg.literal);
    if (seg.var) {
      out.append(vars.get(*seg.var));
    }
  }
  return common::Status::ok();
}

common::Status Template::renderWithKainjow(const Vars& vars, std::string& out) const {
  for (Var v : used_) {
    if (!vars.has(v)) {
      return common::Error::invalidTemplate("template uses {{" + std::string(varName(v)) +
                                            "}}, which has no value here");
    }
  }
  kainjow::mustache::mustache m{text_};
  m.set_custom_escape([](const std::string& s) { return s; });
  kainjow::mustache::data data;
  for (size_t i = 0; i < kVarCount; ++i) {
    auto v = static_cast<Var>(i);
    if (vars.has(v)) {
      const std::string_view value = vars.get(v);
      data.set(std::string(kNames[i]), std::string(value));
    }
  }
  std::string rendered = m.render(data);
  if (!m.is_valid()) {
    return common::Error::invalidTemplate("mustache: " + m.error_message());
  }
  out.append(rendered);
  return common::Status::ok();
}

common::Result<std::string> translateLegacyTemplate(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 16);
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == '{') {
      if (i + 1 < text.size() && text[i + 1] == '{') {
        out.push_back('{');
        i += 2;
        continue;
      }
      size_t close = text.find('}', i + 1);
      if (close == std::string_view::npos) {
        return common::Error::invalidTemplate("unmatched '{' at offset " + std::to_string(i));
      }
      std::string_view name = text.substr(i + 1, close - i - 1);
      if (!varByName(name)) {
        return common::Error::invalidTemplate("unknown placeholder '{" + std::string(name) + "}'");
      }
      out.append("{{");
      out.append(name);
      out.append("}}");
      i = close + 1;
      continue;
    }
    if (c == '}') {
      if (i + 1 < text.size() && text[i + 1] == '}') {
        out.push_back('}');
        i += 2;
        continue;
      }
      return common::Error::invalidTemplate("single '}' at offset " + std::to_string(i));
    }
    out.push_back(c);
    ++i;
  }
  // A literal "{{" produced from "{{{{" would read as a Mustache tag.
  if (out.find("{{") != std::string::npos) {
    // Only our own tags may contain "{{": check that every one names a variable.
    size_t pos = 0;
    while ((pos = out.find("{{", pos)) != std::string::npos) {
      size_t close = out.find("}}", pos + 2);
      if (close == std::string::npos || !varByName(out.substr(pos + 2, close - pos - 2))) {
        return common::Error::invalidTemplate("literal '{{' is not supported in label templates");
      }
      pos = close + 2;
    }
  }
  return out;
}

}  // namespace mlb::controller
