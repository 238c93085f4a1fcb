#include "common/memory.h"

#include <malloc.h>

namespace mlb::common {

bool keepFreedMemory() {
  // glibc: blocks above the mmap threshold are mapped and unmapped per allocation;
  // 32 MiB is the largest threshold it accepts on 64-bit. The trim threshold applies
  // to the main heap and (since glibc 2.26) to each thread's arena.
  constexpr int kMmapThreshold = 32 << 20;
  constexpr int kTrimThreshold = 256 << 20;
  const bool mmap_ok = mallopt(M_MMAP_THRESHOLD, kMmapThreshold) == 1;
  const bool trim_ok = mallopt(M_TRIM_THRESHOLD, kTrimThreshold) == 1;
  return mmap_ok && trim_ok;
}

}  // namespace mlb::common
