#pragma once
// The injection property, shared by the fuzz target (fuzz/render_injection_fuzz.cc)
// and its deterministic corpus test: a feature-rich /v2/apps answer in which one
// string that Marathon sends (a slot) is replaced by an arbitrary value; the answer
// is parsed, built and rendered, and the config audited against the accepted model
// (config_audit.h). Test support: not linked into the binaries.
#include <string>

#include "controller/render/config_audit.h"
#include "controller/render/template_set.h"

namespace mlb::controller::injection {

// The number of slots: app ids, task ids, hosts, IP-per-task addresses, every
// non-template label's value, health-check paths, deployment labels.
int slotCount();
// The slot's name ("task host", "label HAPROXY_0_VHOST", ...).
std::string slotName(int slot);
// The answer with slot `slot` set to `value` (slot < 0: the trusted answer). The JSON
// escapes `value`: what reaches the parser is exactly `value` (invalid UTF-8 aside,
// replaced by U+FFFD: a JSON answer cannot carry it).
std::string answer(int slot, const std::string& value);

// The vocabulary of the trusted answer's config.
Vocabulary baseVocabulary(const TemplateSet& templates);
// Ok when the config rendered with `value` in `slot` keeps the property, else why.
common::Status check(int slot, const std::string& value, const TemplateSet& templates,
                     const Vocabulary& vocab);

}  // namespace mlb::controller::injection
