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

// For one-shot commands that read a large Marathon answer (`mlb render`): glibc reads
// its malloc tunables only when a process starts, so unless GLIBC_TUNABLES already
// mentions glibc.malloc.hugetlb, this re-executes /proc/self/exe with
// glibc.malloc.hugetlb=1 (transparent huge pages for the heap and for large blocks)
// and a 32 MiB mmap threshold added. A 22 MB answer then costs ~1,000 page faults
// instead of ~20,000: on these VMs a fault costs several microseconds, and faults were
// most of the process's CPU. Returns only when nothing was done (already set, or exec
// failed: the command then runs as it is).
void reexecWithHugePageHeap(char** argv, char** envp);

}  // namespace mlb::common
