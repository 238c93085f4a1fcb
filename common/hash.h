#pragma once
// Digests used for stable names and ids. Pure; thread-safe.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace mlb::common {

// Lower-case hex SHA-1 / SHA-256 of the bytes.
std::string sha1Hex(std::string_view data);
std::string sha256Hex(std::string_view data);
using Sha256 = std::array<unsigned char, 32>;
Sha256 sha256(std::string_view data);
std::string hexOf(const Sha256& digest);
// int(sha256(data)) mod m, without formatting the digest (m > 0).
uint32_t sha256Modulo(std::string_view data, uint32_t m);

}  // namespace mlb::common
