#pragma once
// Two configurations written as edits of one base (common/fs/config_edits.h) differ only
// in the sections their edits touch. The excerpts of those sections, as each
// configuration has them, with the text before the first section and every `defaults`
// section (whose `default-server` words the backends after it inherit), are what
// planRuntime needs to compare them: it plans the same as from the whole texts, without
// splitting and comparing thousands of sections that cannot differ. Pure.
#include <optional>
#include <string>
#include <string_view>

#include "common/fs/config_edits.h"

namespace mlb::reloader {

struct Excerpts {
  std::string a;  // of base + edits a
  std::string b;  // of base + edits b
};

// The excerpts of base+a and base+b (an edit list may be empty: the base itself), or
// nothing when the edits do not apply to `base` (size, a replaced range's digest),
// when an edit would join a touched section to one left out (a replacement that does
// not end its last line, or starts a section's first line indented), or when the edits
// add or remove sections in one and not the other (the whole texts' sections no longer
// pair up): then compare the whole texts.
std::optional<Excerpts> excerptsOf(std::string_view base, const common::ConfigEdits& a,
                                   const common::ConfigEdits& b);

}  // namespace mlb::reloader
