#pragma once
// The shape of a configuration: its text with the per-server values of `server` lines
// (name, address, id, cookie, check port) masked and the distinct masked lines of each run of
// server lines kept once, in order. Two configurations of the same shape differ only in
// which servers exist, so HAProxy accepts both or neither. Pure.
#include <cstdint>
#include <string>
#include <string_view>

namespace mlb::controller {

// The masked text (pieces that start and end at line boundaries, between runs of
// server lines, concatenate to the masked text of the whole).
std::string maskedShape(std::string_view config);
// A fast in-memory hash of maskedShape(text): compared within one process, never stored.
uint64_t shapeHash(std::string_view text);
// A hash of the whole masked text, as text.
std::string configShape(const std::string& config);

}  // namespace mlb::controller
