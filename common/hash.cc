#include "common/hash.h"

#include <openssl/sha.h>

#include <array>

namespace mlb::common {
namespace {

// OpenSSL 3 deprecates the one-shot SHA1()/SHA256() in favour of EVP, but EVP's
// per-call context costs more than hashing a 30-byte server name, and ids are
// computed for every server of every render (bench/render_bench).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
template <size_t N>
std::array<unsigned char, N> digest(std::string_view data) {
  std::array<unsigned char, N> out{};
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  if constexpr (N == SHA_DIGEST_LENGTH) {
    SHA1(p, data.size(), out.data());
  } else {
    SHA256(p, data.size(), out.data());
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

uint32_t sha256Modulo(std::string_view data, uint32_t m) {
  uint64_t acc = 0;
  for (unsigned char b : digest<SHA256_DIGEST_LENGTH>(data)) {
    acc = (acc * 256 + b) % m;
  }
  return static_cast<uint32_t>(acc);
}

}  // namespace mlb::common
