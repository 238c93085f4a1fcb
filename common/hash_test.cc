#include "common/hash.h"

#include <gtest/gtest.h>

namespace mlb::common {
namespace {

TEST(HashTest, KnownDigests) {
  EXPECT_EQ(sha1Hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(HashTest, HexModuloMatchesBigIntegerArithmetic) {
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
