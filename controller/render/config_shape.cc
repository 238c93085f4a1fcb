#include "controller/render/config_shape.h"

#include <set>
#include <string>

namespace mlb::controller {
namespace {

std::string maskedShape(std::string_view config) {
  std::string out;
  out.reserve(config.size() / 2);
  // The distinct masked server lines of the current block: server order and count
  // do not change whether HAProxy accepts a backend.
  std::set<std::string> block;
  auto flush = [&] {
    for (const auto& l : block) {
      out.append(l);
      out.push_back('\n');
    }
    block.clear();
  };
  size_t pos = 0;
  while (pos < config.size()) {
    size_t end = config.find('\n', pos);
    if (end == std::string::npos) {
      end = config.size();
    }
    std::string_view line(config.data() + pos, end - pos);
    pos = end + 1;
    size_t first = line.find_first_not_of(' ');
    if (first == std::string_view::npos || line.substr(first, 7) != "server ") {
      flush();
      out.append(line);
      out.push_back('\n');
      continue;
    }
    // server <name> <addr:port> ... id <n> ... cookie <c> ... port <p>: mask the
    // per-server values.
    std::string masked(line.substr(0, first));
    size_t i = first;
    int token = 0;
    bool mask_next = false;
    while (i < line.size()) {
      size_t j = line.find(' ', i);
      if (j == std::string_view::npos) {
        j = line.size();
      }
      std::string_view tok = line.substr(i, j - i);
      bool mask = token == 1 || token == 2 || mask_next;
      // Per-server values: the id, the cookie, the check port (a task's host port).
      mask_next = tok == "id" || tok == "cookie" || tok == "port";
      masked.append(mask ? std::string_view("*") : tok);
      masked.push_back(' ');
      ++token;
      i = j + 1;
    }
    block.insert(std::move(masked));
  }
  flush();
  return out;
}

}  // namespace

uint64_t shapeHash(std::string_view text) {
  // Compared in memory only, never stored: a fast hash is enough.
  const std::string masked = maskedShape(text);
  return std::hash<std::string_view>{}(masked) ^ (uint64_t{masked.size()} << 48);
}

}  // namespace mlb::controller
