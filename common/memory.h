#pragma once
#include <cstddef>
// Process-wide allocator settings for the long-running binaries.

namespace mlb::common {

// Keeps freed heap memory for reuse instead of returning it to the kernel on every
// free. Each pass of the controller and each apply of the reloader builds and drops
// a few megabytes (the Marathon answer, the configuration, its parsed form); with
// glibc's defaults, most of a pass's CPU went to unmapping those pages (madvise,
// munmap) and faulting them in again on the next pass. The cost: the resident size
// stays at its high-water mark. Returns false when the allocator refused a setting.
bool keepFreedMemory();

// Gives the freed memory kept by keepFreedMemory() back to the kernel (malloc_trim):
// after a pass that held a whole Marathon answer, so that the resident size is the
// working set, not the peak of the last full fetch.
void releaseFreedMemory();

// For one-shot commands that read a large Marathon answer (`mlb render`): every block
// from the main heap, the heap grown by `reserve` bytes at once (address space only)
// and that range advised for transparent huge pages (this kernel's THP mode is
// `madvise`). On these VMs a page fault costs several microseconds and faults were
// most of the process's CPU: at 5000 apps ~13,000 faults become ~600 (glibc's own
// glibc.malloc.hugetlb tunable needed a second start of the process, ~15 ms more).
// False when the allocator or the kernel refused (the command then runs as it is).
bool adviseHugePageHeap(size_t reserve);

}  // namespace mlb::common
