#include "common/hash.h"

#include <gtest/gtest.h>

namespace mlb::common {
namespace {

TEST(HashTest, KnownDigests) {
  EXPECT_EQ(sha1Hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

// Test oracle: a hex string taken as one big unsigned integer, modulo m.
uint32_t hexModulo(std::string_view hex, uint32_t m) {
  uint64_t acc = 0;
  for (char c : hex) {
    const uint64_t d = (c >= '0' && c <= '9') ? uint64_t(c - '0') : uint64_t((c | 0x20) - 'a' + 10);
    acc = (acc * 16 + d) % m;
  }
  return static_cast<uint32_t>(acc);
}

TEST(HashTest, HexModuloOracleMatchesBigIntegerArithmetic) {
  EXPECT_EQ(hexModulo("ff", 7), 255u % 7);
  EXPECT_EQ(hexModulo("0", 32767), 0u);
  // 2^64 = 0x10000000000000000; 2^64 mod 32767 = 16 (since 2^15 = 1 mod 32767).
  EXPECT_EQ(hexModulo("10000000000000000", 32767), 16u);
}

TEST(HashTest, Sha256ModuloEqualsHexModuloOfTheDigest) {
  for (const char* s : {"", "10_0_2_7_31007", "a long server name with spaces"}) {
    EXPECT_EQ(sha256Modulo(s, 32767), hexModulo(sha256Hex(s), 32767)) << s;
  }
}

}  // namespace
}  // namespace mlb::common
