#include "reloader/haproxy/edit_excerpts.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace mlb::reloader {

namespace {

using common::ConfigEdit;
using common::ConfigEdits;
using Block = std::pair<size_t, size_t>;  // [begin, end) of the base

constexpr size_t npos = std::string_view::npos;

bool blank(char c) { return c == ' ' || c == '\t' || c == '\n'; }

// runtime_plan's rule: a section starts at the text's start and at every line that is
// neither empty nor indented.
bool startsSection(std::string_view t, size_t pos) {
  return pos == 0 || (pos < t.size() && t[pos - 1] == '\n' && !blank(t[pos]));
}

size_t lineStart(std::string_view t, size_t pos) {
  if (pos == 0) {
    return 0;
  }
  const size_t nl = t.rfind('\n', pos - 1);
  return nl == npos ? 0 : nl + 1;
}

size_t nextLine(std::string_view t, size_t pos) {
  const size_t nl = t.find('\n', pos);
  return nl == npos ? t.size() : nl + 1;
}

// The start of the section holding byte `pos`.
size_t sectionBegin(std::string_view t, size_t pos) {
  size_t l = lineStart(t, std::min(pos, t.size()));
  while (l > 0 && !startsSection(t, l)) {
    l = lineStart(t, l - 1);
  }
  return l;
}

// The end of the section holding byte `end - 1` (end > 0).
size_t sectionEnd(std::string_view t, size_t end) {
  size_t l = t[end - 1] == '\n' ? end : nextLine(t, end);
  while (l < t.size() && !startsSection(t, l)) {
    l = nextLine(t, l);
  }
  return std::min(l, t.size());
}

// The sections an edit can change: those its range overlaps; for an insertion, the
// sections on both sides of it.
Block touched(std::string_view t, const ConfigEdit& e) {
  if (t.empty()) {
    return {0, 0};
  }
  if (e.old_length == 0) {
    return {sectionBegin(t, e.offset > 0 ? e.offset - 1 : 0),
            sectionEnd(t, std::min(e.offset + 1, t.size()))};
  }
  return {sectionBegin(t, e.offset), sectionEnd(t, e.offset + e.old_length)};
}

// The text before the first section header and every `defaults` section: planning
// reads them for every backend after them.
void alwaysKept(std::string_view t, std::vector<Block>& out) {
  if (t.empty()) {
    return;
  }
  out.push_back({0, sectionEnd(t, 1)});
  for (size_t at = t.starts_with("defaults") ? 0 : t.find("\ndefaults"); at != npos;
       at = t.find("\ndefaults", at + 1)) {
    const size_t begin = t[at] == '\n' ? at + 1 : at;
    const size_t after = begin + 8;
    if (after == t.size() || t[after] == '\n' || t[after] == ' ') {
      out.push_back({begin, sectionEnd(t, after)});
    }
  }
}

std::vector<Block> blocksOf(std::string_view base, const ConfigEdits& a, const ConfigEdits& b) {
  std::vector<Block> all;
  alwaysKept(base, all);
  for (const ConfigEdits* list : {&a, &b}) {
    for (const auto& e : list->edits) {
      all.push_back(touched(base, e));
    }
  }
  std::sort(all.begin(), all.end());
  std::vector<Block> merged;
  for (const Block& x : all) {
    if (!merged.empty() && x.first <= merged.back().second) {
      merged.back().second = std::max(merged.back().second, x.second);
    } else {
      merged.push_back(x);
    }
  }
  return merged;
}

size_t sectionCount(std::string_view text) {
  size_t n = 0;
  for (size_t l = 0; l < text.size(); l = nextLine(text, l)) {
    n += startsSection(text, l) ? 1 : 0;
  }
  return n;
}

// The blocks of base + edits, and the number of sections of each; false when a block's
// text would join a section left out.
bool excerpt(std::string_view base, const std::vector<Block>& blocks, const ConfigEdits& e,
             std::string& out, std::vector<size_t>& sections) {
  size_t next = 0;  // the first edit not applied yet
  for (const auto& [begin, end] : blocks) {
    const size_t from = out.size();
    size_t pos = begin;
    for (; next < e.edits.size() && e.edits[next].offset < end + 1; ++next) {
      const ConfigEdit& x = e.edits[next];
      if (x.offset < begin || x.offset + x.old_length > end) {
        break;  // (not in this block: the next one's)
      }
      out.append(base.substr(pos, x.offset - pos)).append(x.text);
      pos = x.offset + x.old_length;
    }
    out.append(base.substr(pos, end - pos));
    const std::string_view text = std::string_view(out).substr(from);
    if ((begin > 0 && !text.empty() && blank(text.front())) ||
        (end < base.size() && !text.empty() && text.back() != '\n')) {
      return false;
    }
    sections.push_back(sectionCount(text));
  }
  return next == e.edits.size();
}

}  // namespace

std::optional<Excerpts> excerptsOf(std::string_view base, const ConfigEdits& a,
                                   const ConfigEdits& b) {
  if (!common::checkConfigEdits(base, a) || !common::checkConfigEdits(base, b)) {
    return std::nullopt;
  }
  const std::vector<Block> blocks = blocksOf(base, a, b);
  Excerpts out;
  std::vector<size_t> sections_a, sections_b;
  // A block with more sections in one than in the other shifts every section after it
  // in the whole texts: compared whole, pairs of other sections differ.
  if (!excerpt(base, blocks, a, out.a, sections_a) ||
      !excerpt(base, blocks, b, out.b, sections_b) || sections_a != sections_b) {
    return std::nullopt;
  }
  return out;
}

}  // namespace mlb::reloader
