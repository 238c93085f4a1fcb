#pragma once
// Process-wide allocator settings for the long-running binaries.

namespace mlb::common {

// Keeps freed heap memory for reuse instead of returning it to the kernel on every
// free. Each pass of the controller and each apply of the reloader builds and drops
// a few megabytes (the Marathon answer, the configuration, its parsed form); with
// glibc's defaults, most of a pass's CPU went to unmapping those pages (madvise,
// munmap) and faulting them in again on the next pass. The cost: the resident size
// stays at its high-water mark. Returns false when the allocator refused a setting.
bool keepFreedMemory();

}  // namespace mlb::common
