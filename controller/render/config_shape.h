#pragma once
// The shape of a configuration: its text with the per-server values of `server` lines
// (name, address, id, cookie, check port) masked and the distinct masked lines of each
// run of server lines kept once, in order. Two configurations of the same shape differ
// only in which servers exist, so HAProxy accepts both or neither. Pure.
#include <cstdint>
#include <string_view>

namespace mlb::controller {

// A fast in-memory hash of the shape of `text` (a whole configuration, or one piece of
// it: the renderer combines the pieces'): compared within one process, never stored.
uint64_t shapeHash(std::string_view text);

}  // namespace mlb::controller
