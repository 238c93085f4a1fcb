#include "common/memory.h"

#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

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

void releaseFreedMemory() { malloc_trim(0); }

namespace {
// glibc's defaults (mallopt(3)), put back when the huge-page heap cannot be set up.
void restoreAllocatorDefaults() {
  mallopt(M_MMAP_MAX, 65536);
  mallopt(M_TOP_PAD, 128 * 1024);
  mallopt(M_TRIM_THRESHOLD, 128 * 1024);
}
}  // namespace

bool adviseHugePageHeap(size_t reserve) {
  constexpr uintptr_t kHuge = 2 << 20;
  constexpr size_t kTopPad = 64 << 20;
  // MALLOC_PERTURB_ fills every block: the reservation would become resident.
  if (std::getenv("MALLOC_PERTURB_") != nullptr) {
    return false;
  }
  // Below the trim threshold, so that freeing the reservation keeps it.
  reserve = std::min<size_t>(reserve, INT32_MAX - 2 * kTopPad);
  // Every block from the main heap (no mapping per large block), the heap grown by
  // `reserve` at once and never trimmed: one range to advise.
  if (mallopt(M_TRIM_THRESHOLD, INT32_MAX) != 1 || mallopt(M_TOP_PAD, kTopPad) != 1 ||
      mallopt(M_MMAP_MAX, 0) != 1) {
    restoreAllocatorDefaults();
    return false;
  }
  // A block as big as the reservation grows the heap past it (pages untouched); freed,
  // it stays as the heap's top, which the later blocks are carved from.
  void* block = malloc(reserve);
  if (block == nullptr) {
    restoreAllocatorDefaults();
    return false;
  }
  const auto begin = (reinterpret_cast<uintptr_t>(block) + kHuge - 1) & ~(kHuge - 1);
  const auto end = reinterpret_cast<uintptr_t>(sbrk(0)) & ~(kHuge - 1);
  const bool ok =
      end > begin && madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE) == 0;
  free(block);
  return ok;
}

}  // namespace mlb::common
