#include "controller/model/labels.h"

#include <algorithm>
#include <charconv>
#include <functional>
#include <unordered_map>
#include <unordered_set>

#include "common/strings.h"

namespace mlb::controller {
namespace {

using common::Error;
using common::Status;

template <typename Pred>
bool allOf(std::string_view s, Pred ok) {
  return std::all_of(s.begin(), s.end(), ok);
}

bool isHostChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' ||
         c == '*';
}

// An IPv4/IPv6 address or CIDR: conservative character check plus shape.
bool isNetwork(std::string_view s) {
  if (s.empty() || s.size() > 64) {
    return false;
  }
  return allOf(s, [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) || c == '.' || c == ':' || c == '/';
  });
}

// What is wrong with a value; applyPortLabel() adds which label it was.
Error bad(std::string_view why) { return Error::invalidData(std::string(why)); }

// Validates `v` and stores it in the service, or says why it cannot.
using Setter = std::function<Status(const std::string& v, Service& s)>;

// marathon-lb's reading: any word but true/t/yes/y is false (never an error: an app
// marathon-lb routes stays routed, and "1" never enables what marathon-lb kept off).
template <typename T>
Status setBool(const std::string& v, T& out) {
  out = parseBool(v);
  return Status::ok();
}

const std::unordered_map<std::string_view, Setter>& behaviourTable() {
  static const std::unordered_map<std::string_view, Setter> table = {
      {"VHOST",
       [](const std::string& v, Service& s) -> Status {
         // As marathon-lb routes them: blanks around a name and empty entries
         // ("a.example.com, b.example.com,") are not part of any name.
         std::vector<std::string> hosts;
         for (auto& host : common::splitExact(common::toLower(v), ',')) {
           const size_t b = host.find_first_not_of(" \t");
           if (b == std::string::npos) {
             continue;
           }
           host = host.substr(b, host.find_last_not_of(" \t") - b + 1);
           if (host.size() > 253 || !allOf(host, isHostChar)) {
             return bad("'" + host + "' is not a host name");
           }
           hosts.push_back(std::move(host));
         }
         if (hosts.empty()) {
           return bad("'" + v + "' names no host");
         }
         s.hostname.clear();
         for (const auto& host : hosts) {
           s.hostname += (s.hostname.empty() ? "" : ",") + host;
         }
         s.vhosts = std::move(hosts);
         return Status::ok();
       }},
      {"PATH",
       [](const std::string& v, Service& s) -> Status {
         if (v.empty() || v.find_first_of("#\"'\\{}") != std::string::npos) {
           return bad("'" + v + "' is not a path list");
         }
         s.path = v;
         if (s.backend_weight == 0) {
           s.backend_weight = 1;
         }
         return Status::ok();
       }},
      {"BACKEND_WEIGHT",
       [](const std::string& v, Service& s) -> Status {
         auto w = parseInt(v, -1000000, 1000000);
         if (!w) {
           return bad("'" + v + "' is not an integer");
         }
         s.backend_weight = *w;
         return Status::ok();
       }},
      {"MODE",
       [](const std::string& v, Service& s) -> Status {
         std::string m = common::toLower(v);
         if (m != "http" && m != "tcp") {
           return bad("'" + v + "' is not http or tcp");
         }
         s.mode = m;
         return Status::ok();
       }},
      {"BALANCE",
       [](const std::string& v, Service& s) -> Status {
         if (v.empty() || !allOf(v, [](char c) {
               return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ||
                      c == '(' || c == ')' || c == ' ' || c == ',' || c == '.';
             })) {
           return bad("'" + v + "' is not a balance algorithm");
         }
         s.balance = v;
         return Status::ok();
       }},
      {"STICKY", [](const std::string& v, Service& s) { return setBool(v, s.sticky); }},
      {"REDIRECT_TO_HTTPS",
       [](const std::string& v, Service& s) { return setBool(v, s.redirect_to_https); }},
      {"USE_HSTS", [](const std::string& v, Service& s) { return setBool(v, s.use_hsts); }},
      {"AUTH",
       [](const std::string& v, Service& s) -> Status {
         auto parts = common::splitExact(v, ':');
         if (parts.size() != 3 || parts[0].empty() || parts[1].empty() || parts[2].empty()) {
           return bad("expected realm:user:password-hash");
         }
         if (parts[0].find('"') != std::string::npos ||
             parts[1].find_first_of(" \t") != std::string::npos ||
             parts[2].find_first_of(" \t") != std::string::npos) {
           return bad("realm must not contain '\"', user and hash no blanks");
         }
         s.auth_realm = parts[0];
         s.auth_user = parts[1];
         s.auth_passwd = parts[2];
         return Status::ok();
       }},
      {"SSL_CERT",
       [](const std::string& v, Service& s) -> Status {
         if (v.empty() || v.find_first_of(" \t#") != std::string::npos) {
           return bad("'" + v + "' is not a certificate path");
         }
         s.ssl_cert = v;
         return Status::ok();
       }},
      {"BIND_OPTIONS",
       [](const std::string& v, Service& s) -> Status {
         s.bind_options = v;
         return Status::ok();
       }},
      {"BIND_ADDR",
       [](const std::string& v, Service& s) -> Status {
         if (v.empty() || !allOf(v, [](char c) {
               return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == ':' ||
                      c == '*' || c == '[' || c == ']' || c == '@' || c == '-' || c == '_';
             })) {
           return bad("'" + v + "' is not a bind address");
         }
         s.bind_addr = v;
         return Status::ok();
       }},
      {"PORT",
       [](const std::string& v, Service& s) -> Status {
         auto p = parseInt(v, 1, 65535);
         if (!p) {
           return bad("'" + v + "' is not a port number (1-65535)");
         }
         s.service_port = *p;
         return Status::ok();
       }},
      {"ENABLED", [](const std::string& v, Service& s) { return setBool(v, s.enabled); }},
      {"GROUP",
       [](const std::string& v, Service& s) -> Status {
         if (!allOf(v, [](char c) { return c > ' ' && c != '#'; })) {
           return bad("'" + v + "' is not a comma-separated group list");
         }
         s.groups = common::splitExact(v, ',');
         return Status::ok();
       }},
      {"BACKEND_NETWORK_ALLOWED_ACL",
       [](const std::string& v, Service& s) -> Status {
         size_t count = 0;
         size_t i = 0;
         while (i < v.size()) {
           size_t j = v.find_first_of(" \t", i);
           std::string_view tok = std::string_view(v).substr(i, j == std::string::npos ? j : j - i);
           if (!tok.empty()) {
             if (!isNetwork(tok)) {
               return bad("'" + std::string(tok) + "' is not an address or CIDR");
             }
             ++count;
           }
           if (j == std::string::npos) {
             break;
           }
           i = j + 1;
         }
         if (count == 0) {
           return bad("empty network list");
         }
         s.network_allowed = v;
         return Status::ok();
       }},
      {"BACKEND_HEALTHCHECK_PORT_INDEX",
       [](const std::string& v, Service& s) -> Status {
         auto p = parseInt(v, 0, 1000);
         if (!p) {
           return bad("'" + v + "' is not a port index");
         }
         s.healthcheck_port_index = *p;
         return Status::ok();
       }},
      {"HTTP_BACKEND_PROXYPASS_PATH",
       [](const std::string& v, Service& s) -> Status {
         if (v.empty() || v[0] != '/' || v.find_first_of(" \t#\"'\\") != std::string::npos) {
           return bad("'" + v + "' is not a path");
         }
         s.proxypath = v;
         return Status::ok();
       }},
      {"HTTP_BACKEND_REVPROXY_PATH",
       [](const std::string& v, Service& s) -> Status {
         if (v.empty() || v[0] != '/' || v.find_first_of(" \t#\"'\\") != std::string::npos) {
           return bad("'" + v + "' is not a path");
         }
         s.revproxypath = v;
         return Status::ok();
       }},
      {"HTTP_BACKEND_REDIR",
       [](const std::string& v, Service& s) -> Status {
         if (v.empty() || v.find_first_of(" \t#\"'\\") != std::string::npos) {
           return bad("'" + v + "' is not a redirect location");
         }
         s.redirpath = v;
         return Status::ok();
       }},
  };
  return table;
}

}  // namespace

const std::vector<std::string>& overridableTemplateNames() {
  static const std::vector<std::string> names = {
      "BACKEND_HEAD",
      "BACKEND_HSTS_OPTIONS",
      "BACKEND_HTTP_HEALTHCHECK_OPTIONS",
      "BACKEND_HTTP_OPTIONS",
      "BACKEND_REDIRECT_HTTP_TO_HTTPS",
      "BACKEND_REDIRECT_HTTP_TO_HTTPS_WITH_PATH",
      "BACKEND_SERVER_HTTP_HEALTHCHECK_OPTIONS",
      "BACKEND_SERVER_OPTIONS",
      "BACKEND_SERVER_TCP_HEALTHCHECK_OPTIONS",
      "BACKEND_STICKY_OPTIONS",
      "BACKEND_TCP_HEALTHCHECK_OPTIONS",
      "FRONTEND_BACKEND_GLUE",
      "FRONTEND_HEAD",
      "HTTPS_FRONTEND_ACL",
      "HTTPS_FRONTEND_ACL_ONLY_WITH_PATH",
      "HTTPS_FRONTEND_ACL_WITH_AUTH",
      "HTTPS_FRONTEND_ACL_WITH_AUTH_AND_PATH",
      "HTTPS_FRONTEND_ACL_WITH_PATH",
      "HTTP_BACKEND_NETWORK_ALLOWED_ACL",
      "HTTP_BACKEND_PROXYPASS_GLUE",
      "HTTP_BACKEND_REVPROXY_GLUE",
      "HTTP_FRONTEND_ACL",
      "HTTP_FRONTEND_ACL_ONLY",
      "HTTP_FRONTEND_ACL_ONLY_WITH_PATH",
      "HTTP_FRONTEND_ACL_ONLY_WITH_PATH_AND_AUTH",
      "HTTP_FRONTEND_ACL_WITH_AUTH",
      "HTTP_FRONTEND_ACL_WITH_AUTH_AND_PATH",
      "HTTP_FRONTEND_ACL_WITH_PATH",
      "HTTP_FRONTEND_APPID_ACL",
      "HTTP_FRONTEND_ROUTING_ONLY",
      "HTTP_FRONTEND_ROUTING_ONLY_WITH_AUTH",
      "HTTP_FRONTEND_ROUTING_ONLY_WITH_PATH",
      "HTTP_FRONTEND_ROUTING_ONLY_WITH_PATH_AND_AUTH",
      "TCP_BACKEND_NETWORK_ALLOWED_ACL",
      "USERLIST_HEAD",
      // Accepted but never read, as in marathon-lb: in map mode the non-map label
      // overrides the map template too.
      "MAP_HTTP_FRONTEND_ACL",
      "MAP_HTTP_FRONTEND_ACL_ONLY",
      "MAP_HTTP_FRONTEND_APPID_ACL",
      "MAP_HTTPS_FRONTEND_ACL",
  };
  return names;
}

bool isSafeValue(std::string_view value) {
  return std::none_of(value.begin(), value.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

bool isSafeTemplateText(std::string_view value) {
  return std::none_of(value.begin(), value.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\n' && c != '\t') || u == 0x7f;
  });
}

bool isKnownPortLabel(std::string_view name) {
  const auto& t = overridableTemplateNames();
  return behaviourTable().count(name) > 0 || std::find(t.begin(), t.end(), name) != t.end();
}

bool isBooleanPortLabel(std::string_view name) {
  // The labels whose setter is setBool in behaviourTable().
  return name == "STICKY" || name == "REDIRECT_TO_HTTPS" || name == "USE_HSTS" || name == "ENABLED";
}

bool parseBool(std::string_view value) {
  const std::string v = common::toLower(value);
  return v == "true" || v == "t" || v == "yes" || v == "y";
}

std::optional<int> parseInt(std::string_view value, int lo, int hi) {
  std::string_view v = value;
  while (!v.empty() && v.front() == ' ') {
    v.remove_prefix(1);
  }
  while (!v.empty() && v.back() == ' ') {
    v.remove_suffix(1);
  }
  int out = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || ptr != v.data() + v.size() || v.empty() || out < lo || out > hi) {
    return std::nullopt;
  }
  return out;
}

void sanitizeNameInPlace(std::string& s) {
  // ASCII letters and digits, as isalnum() in the C locale, without its per-call
  // locale lookup (this runs on every server name of every render).
  for (char& c : s) {
    const bool keep =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!keep) {
      c = '_';
    }
  }
}

std::string sanitizeName(std::string_view s) {
  std::string out(s);
  sanitizeNameInPlace(out);
  return out;
}

namespace {

Error labelError(const Service& service, std::string_view name, std::string_view why) {
  return Error::invalidData("label HAPROXY_" + std::to_string(service.port_index) + "_" +
                            std::string(name) + ": " + std::string(why));
}

}  // namespace

common::Status applyPortLabel(std::string_view name, const std::string& value, Service& service) {
  static const std::unordered_set<std::string_view> templates(overridableTemplateNames().begin(),
                                                              overridableTemplateNames().end());
  if (templates.count(name) > 0) {
    std::string text;
    text.reserve(value.size());
    for (size_t i = 0; i < value.size(); ++i) {
      if (value[i] == '\r' && i + 1 < value.size() && value[i + 1] == '\n') {
        continue;
      }
      text.push_back(value[i]);
    }
    if (!isSafeTemplateText(text)) {
      return labelError(service, name, "template text contains control characters");
    }
    service.template_overrides[std::string(name)] = std::move(text);
    return Status::ok();
  }
  const auto& table = behaviourTable();
  auto it = table.find(name);
  if (it == table.end()) {
    return Status::ok();
  }
  if (!isSafeValue(value)) {
    return labelError(service, name, "value contains a newline or control character");
  }
  if (Status st = it->second(value, service); !st) {
    return labelError(service, name, st.error().message);
  }
  return Status::ok();
}

}  // namespace mlb::controller
