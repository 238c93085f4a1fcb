#pragma once
// Digests used for stable names and ids. Pure; thread-safe.
#include <cstdint>
#include <string>
#include <string_view>

namespace mlb::common {

// Lower-case hex SHA-1 / SHA-256 of the bytes.
std::string sha1Hex(std::string_view data);
std::string sha256Hex(std::string_view data);
// int(sha256(data)) mod m, without formatting the digest (m > 0).
uint32_t sha256Modulo(std::string_view data, uint32_t m);

}  // namespace mlb::common
