#pragma once
// Small string helpers shared by both binaries.
#include <algorithm>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace mlb::common {

// Replaces every occurrence of `from` (non-empty) in `s` by `to`, left to right.
// Returns the number of replacements.
inline size_t replaceAll(std::string& s, const std::string& from, const std::string& to) {
  size_t n = 0;
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) {
    s.replace(pos, from.size(), to);
    ++n;
  }
  return n;
}

// The non-empty runs between any of `separators` ("a,,b" on "," is "a", "b").
inline std::vector<std::string> splitAny(std::string_view s, std::string_view separators) {
  std::vector<std::string> out;
  for (size_t pos = s.find_first_not_of(separators); pos != std::string_view::npos;) {
    const size_t end = std::min(s.find_first_of(separators, pos), s.size());
    out.emplace_back(s.substr(pos, end - pos));
    pos = s.find_first_not_of(separators, end);
  }
  return out;
}

// The blank-separated words of a line (HAProxy config and CLI lines): separated by
// any run of spaces, tabs, CR, LF, VT or FF (what `std::istream >> word` splits on,
// without a stream per line).
inline std::vector<std::string> splitWords(std::string_view line) {
  return splitAny(line, " \t\r\n\v\f");
}

// Every entry between separators, empty ones included: "a,,b" is "a", "", "b" and
// "" is one empty entry. For label values, read exactly as marathon-lb's split() does.
inline std::vector<std::string> splitExact(std::string_view s, char sep) {
  std::vector<std::string> out;
  for (size_t start = 0;;) {
    const size_t pos = s.find(sep, start);
    out.emplace_back(s.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos) {
      return out;
    }
    start = pos + 1;
  }
}

// The non-empty items of a flag's list: separated by commas and/or blanks
// ("a,b c,,d" is "a", "b", "c", "d"). For --marathon, --group and --ssl-certs in every
// binary alike.
inline std::vector<std::string> splitList(std::string_view s) { return splitAny(s, ", \t\r\n"); }

// `s` without the characters of `blanks` at either end.
inline std::string trim(std::string_view s, std::string_view blanks = " \t\r\n") {
  const size_t a = s.find_first_not_of(blanks);
  if (a == std::string_view::npos) {
    return "";
  }
  return std::string(s.substr(a, s.find_last_not_of(blanks) - a + 1));
}

// ASCII lower case (header names, host names, label words).
inline std::string toLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

}  // namespace mlb::common
