#include "common/memory.h"

#include <malloc.h>
#include <unistd.h>

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

void reexecWithHugePageHeap(char** argv, char** envp) {
  constexpr const char* kTunables = "glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=33554432";
  std::vector<std::string> env;
  bool found = false;
  for (char** e = envp; e != nullptr && *e != nullptr; ++e) {
    std::string var = *e;
    if (var.rfind("GLIBC_TUNABLES=", 0) == 0) {
      if (var.find("glibc.malloc.hugetlb") != std::string::npos) {
        return;  // set by the user, or by our own re-exec
      }
      var += std::string(var.size() > 15 ? ":" : "") + kTunables;
      found = true;
    }
    env.push_back(std::move(var));
  }
  if (!found) {
    env.push_back(std::string("GLIBC_TUNABLES=") + kTunables);
  }
  std::vector<char*> envv;
  for (auto& var : env) {
    envv.push_back(var.data());
  }
  envv.push_back(nullptr);
  ::execve("/proc/self/exe", argv, envv.data());
}

}  // namespace mlb::common
