#pragma once
// Pure, total pieces of HTTP/1.1 that both Marathon transports use: URLs, response
// header lookup, and the redirect policy. Any input gives a value, never a crash
// (fuzzed with the chunked decoder, fuzz/http_chunked_fuzz.cc).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mlb::controller {

// Splits "http://host:port/path?q" into parts; port defaults from the scheme.
struct ParsedUrl {
  bool tls = false;
  std::string host;
  std::string port;
  std::string target;  // path + query, "/" when empty
};
// An http or https URL, or nothing.
std::optional<ParsedUrl> parseUrl(const std::string& url);

// What to do with a redirect from `from` to `to` (base URLs): never from https to
// http; with the credentials only to one of the `configured` Marathon URLs (same
// scheme, host and port), without them anywhere else (a leader behind a VIP).
enum class RedirectPolicy { Refuse, FollowWithCredentials, FollowWithoutCredentials };
RedirectPolicy planRedirect(const std::string& from, const std::string& to,
                            const std::vector<std::string>& configured);

// The value of the first header named `lower_name` (lower case) in an HTTP response
// head (status line and header lines), blanks after the colon skipped; "" when the
// header is absent or empty. Names match in any case.
std::string responseHeader(std::string_view head, std::string_view lower_name);

}  // namespace mlb::controller
