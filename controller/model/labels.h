#pragma once
// The table of marathon-lb's per-port labels (HAPROXY_{n}_<NAME>), each with its
// validator. Untrusted label values are checked here and nowhere else: a value
// that could inject configuration (control characters) or is outside its type is
// an error naming the label and the reason.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "controller/model/service.h"

namespace mlb::controller {

// Names of the templates that a HAPROXY_{n}_<NAME> label may override per port.
const std::vector<std::string>& overridableTemplateNames();

// Applies the per-port label `name` (the part after HAPROXY_{n}_) with `value` to
// `service`. Unknown names are ignored (marathon-lb ignores them too). Returns an
// Error whose message names the label, with service.port_index as {n}, and says
// what is wrong.
common::Status applyPortLabel(std::string_view name, const std::string& value, Service& service);

// Whether HAPROXY_{n}_<name> is a label mlb reads (a behaviour or a template), and
// whether it is one of the boolean ones (STICKY, ENABLED, ...). For `mlb lint`.
bool isKnownPortLabel(std::string_view name);
bool isBooleanPortLabel(std::string_view name);

// True for a value with no control characters (template text may hold '\n' and '\t').
bool isSafeValue(std::string_view value);
bool isSafeTemplateText(std::string_view value);

// marathon-lb's truth values: true/t/yes/y (any case, no blanks); every other
// value is false, as marathon-lb reads it ("1" and " true" too).
bool parseBool(std::string_view value);

// An integer in [lo, hi], or nullopt.
std::optional<int> parseInt(std::string_view value, int lo, int hi);

// Replaces every character outside [a-zA-Z0-9-] with '_' (marathon-lb's ACL names).
std::string sanitizeName(std::string_view s);
void sanitizeNameInPlace(std::string& s);

}  // namespace mlb::controller
