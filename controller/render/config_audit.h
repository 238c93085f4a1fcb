#pragma once
// Pure: checks that a rendered configuration has only the shape the templates give
// the model it was rendered from — the injection property. No value from Marathon may
// add a line, a section or a directive: every line is a section header of a known
// kind naming a proxy the model accounts for, or a directive whose keyword the
// templates use in that kind of section; each backend holds exactly its servers'
// `server` lines; no control character but the line feed. Used by the injection
// fuzzer and its deterministic corpus test.
#include <set>
#include <string>
#include <utility>

#include "common/result.h"
#include "controller/model/service.h"

namespace mlb::controller {

struct Vocabulary {
  std::set<std::pair<std::string, std::string>> keywords;  // (section kind, first token)
  std::set<std::string> fixed_sections;                    // "frontend marathon_http_in", ...
};

// The vocabulary of a configuration rendered from trusted input (every feature on):
// its directive keywords per section kind, and its sections that no service names.
Vocabulary collectVocabulary(const std::string& config, const ServiceModel& model);

// Ok when `config` keeps to `vocab` and `model`; else the first violation, with the
// line number.
common::Status auditConfig(const std::string& config, const ServiceModel& model,
                           const Vocabulary& vocab);

}  // namespace mlb::controller
