#pragma once
// Small string helpers shared by both binaries.
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

// The blank-separated words of a line (HAProxy config and CLI lines).
inline std::vector<std::string> splitWords(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) {
    out.push_back(w);
  }
  return out;
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
