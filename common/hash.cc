#include "common/hash.h"

#include <openssl/sha.h>

#include <array>

namespace mlb::common {
namespace {

// OpenSSL 3 deprecates the SHA1_*/SHA256_* functions in favour of EVP, but both EVP
// and the one-shot SHA256() fetch the algorithm from a provider on every call
// (a lock and a lookup): 26,000 server names take 8.7 ms through SHA256() and
// 1.4 ms through the context functions on this machine. Ids are computed for every
// server of every render (bench/render_bench).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
template <size_t N>
std::array<unsigned char, N> digest(std::string_view data) {
  std::array<unsigned char, N> out{};
  if constexpr (N == SHA_DIGEST_LENGTH) {
    SHA_CTX ctx;
    SHA1_Init(&ctx);
    SHA1_Update(&ctx, data.data(), data.size());
    SHA1_Final(out.data(), &ctx);
  } else {
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, data.data(), data.size());
    SHA256_Final(out.data(), &ctx);
  }
  return out;
}
#pragma GCC diagnostic pop

template <size_t N>
std::string toHex(const std::array<unsigned char, N>& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(N * 2, '0');
  for (size_t i = 0; i < N; ++i) {
    hex[2 * i] = kHex[bytes[i] >> 4];
    hex[2 * i + 1] = kHex[bytes[i] & 0xf];
  }
  return hex;
}

}  // namespace

std::string sha1Hex(std::string_view data) { return toHex(digest<SHA_DIGEST_LENGTH>(data)); }
std::string sha256Hex(std::string_view data) { return toHex(digest<SHA256_DIGEST_LENGTH>(data)); }
Sha256 sha256(std::string_view data) { return digest<SHA256_DIGEST_LENGTH>(data); }
std::string hexOf(const Sha256& digest) { return toHex(digest); }

uint32_t sha256Modulo(std::string_view data, uint32_t m) {
  // The digest as one big-endian integer, reduced 32 bits at a time: acc < m < 2^32,
  // so acc * 2^32 + word fits in 64 bits. 8 divisions instead of 32.
  const auto d = digest<SHA256_DIGEST_LENGTH>(data);
  uint64_t acc = 0;
  for (size_t i = 0; i < d.size(); i += 4) {
    const uint64_t word = (uint64_t{d[i]} << 24) | (uint64_t{d[i + 1]} << 16) |
                          (uint64_t{d[i + 2]} << 8) | uint64_t{d[i + 3]};
    acc = ((acc << 32) | word) % m;
  }
  return static_cast<uint32_t>(acc);
}

}  // namespace mlb::common
