#include "controller/marathon/http_message.h"

#include "common/strings.h"

namespace mlb::controller {

RedirectPolicy planRedirect(const std::string& from, const std::string& to,
                            const std::vector<std::string>& configured) {
  const auto f = parseUrl(from);
  const auto t = parseUrl(to);
  if (!f || !t || (f->tls && !t->tls)) {
    return RedirectPolicy::Refuse;
  }
  for (const auto& c : configured) {
    const auto u = parseUrl(c);
    if (u && u->tls == t->tls && common::toLower(u->host) == common::toLower(t->host) &&
        u->port == t->port) {
      return RedirectPolicy::FollowWithCredentials;
    }
  }
  return RedirectPolicy::FollowWithoutCredentials;
}

std::optional<ParsedUrl> parseUrl(const std::string& url) {
  ParsedUrl out;
  size_t p = url.find("://");
  if (p == std::string::npos) {
    return std::nullopt;
  }
  std::string scheme = url.substr(0, p);
  if (scheme == "https") {
    out.tls = true;
  } else if (scheme != "http") {
    return std::nullopt;
  }
  std::string rest = url.substr(p + 3);
  size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  out.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (!hostport.empty() && hostport.front() == '[') {
    size_t close = hostport.find(']');
    if (close == std::string::npos) {
      return std::nullopt;
    }
    out.host = hostport.substr(1, close - 1);
    out.port = close + 2 <= hostport.size() ? hostport.substr(close + 2) : "";
  } else {
    size_t colon = hostport.rfind(':');
    out.host = hostport.substr(0, colon);
    out.port = colon == std::string::npos ? "" : hostport.substr(colon + 1);
  }
  if (out.port.empty()) {
    out.port = out.tls ? "443" : "80";
  }
  if (out.host.empty()) {
    return std::nullopt;
  }
  return out;
}

std::string responseHeader(std::string_view head, std::string_view lower_name) {
  size_t pos = head.find("\r\n");  // past the status line
  while (pos != std::string_view::npos) {
    pos += 2;
    const size_t end = head.find("\r\n", pos);
    const std::string_view line =
        head.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    const size_t colon = line.find(':');
    if (colon != std::string_view::npos && common::toLower(line.substr(0, colon)) == lower_name) {
      const size_t v = line.find_first_not_of(' ', colon + 1);
      return v == std::string_view::npos ? std::string() : std::string(line.substr(v));
    }
    pos = end;
  }
  return "";
}

}  // namespace mlb::controller
