#include "controller/sync/alert_attribution.h"

#include <algorithm>
#include <string_view>

namespace mlb::controller {
namespace {

// The byte offset where 1-based line `line` starts, or npos.
size_t lineOffset(const std::string& config, int line) {
  if (line < 1) {
    return std::string::npos;
  }
  size_t offset = 0;
  for (int l = 1; l < line; ++l) {
    offset = config.find('\n', offset);
    if (offset == std::string::npos) {
      return std::string::npos;
    }
    ++offset;
  }
  return offset < config.size() ? offset : std::string::npos;
}

// The offset of the section header of proxy `name` ("backend name", "frontend name",
// "listen name" at the start of a line), or npos.
size_t sectionOffset(const std::string& config, std::string_view name) {
  for (std::string_view kind : {"backend ", "frontend ", "listen "}) {
    std::string header = std::string(kind) + std::string(name);
    for (size_t pos = config.find(header); pos != std::string::npos;
         pos = config.find(header, pos + 1)) {
      const size_t end = pos + header.size();
      const bool line_start = pos == 0 || config[pos - 1] == '\n';
      const bool whole = end == config.size() || config[end] == '\n' || config[end] == ' ';
      if (line_start && whole) {
        return pos;
      }
    }
  }
  return std::string::npos;
}

// The app owning the section of a proxy the alert names in quotes, or "".
std::string ownerByProxyName(const std::string& text, const std::string& config,
                             const std::vector<RenderedConfig::Span>& spans) {
  size_t pos = 0;
  while ((pos = text.find('\'', pos)) != std::string::npos) {
    size_t end = text.find('\'', pos + 1);
    if (end == std::string::npos) {
      break;
    }
    std::string_view name(text.data() + pos + 1, end - pos - 1);
    pos = end + 1;
    if (name.empty() || name.find_first_of(" \n") != std::string_view::npos) {
      continue;
    }
    size_t at = sectionOffset(config, name);
    if (const auto* span = at == std::string::npos ? nullptr : spanAtOffset(spans, at)) {
      return span->app_id();
    }
  }
  return "";
}

bool isSummary(const std::string& text) {
  return text.find("Fatal errors found") != std::string::npos ||
         text.find("Error(s) found") != std::string::npos;
}

}  // namespace

const RenderedConfig::Span* spanAtOffset(const std::vector<RenderedConfig::Span>& spans,
                                         size_t offset) {
  auto it = std::upper_bound(spans.begin(), spans.end(), offset,
                             [](size_t o, const RenderedConfig::Span& s) { return o < s.begin; });
  if (it == spans.begin()) {
    return nullptr;
  }
  --it;
  return offset < it->end ? &*it : nullptr;
}

Attribution attributeAlerts(const std::string& output, const std::string& config,
                            const std::vector<RenderedConfig::Span>& spans) {
  Attribution a;
  for (const auto& [line, text] : common::parseAlerts(output)) {
    std::string owner;
    if (size_t at = lineOffset(config, line); at != std::string::npos) {
      if (const auto* span = spanAtOffset(spans, at)) {
        owner = span->app_id();
      }
    }
    if (owner.empty()) {
      owner = ownerByProxyName(text, config, spans);
    }
    if (!owner.empty()) {
      a.apps.emplace(owner, text);
    } else if (a.unattributed.empty() && !isSummary(text)) {
      a.unattributed = text;
    }
  }
  return a;
}

}  // namespace mlb::controller
