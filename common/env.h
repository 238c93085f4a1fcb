#pragma once
// The process's environment and its stop signals, as both binaries and the CLI use them.
#include <map>
#include <string>

namespace mlb::common {

// NAME -> value for every NAME=value entry of `envp` (a null-terminated array, as
// `environ`); entries without '=' are skipped. Values may contain '='.
std::map<std::string, std::string> environmentMap(char** envp);

// After this, SIGTERM and SIGINT only set the flag stopRequested() reads (main loops
// poll it and shut down cleanly); SIGPIPE is ignored, so that a peer closing a
// socket is an error return, not a death.
void installStopSignals();
bool stopRequested();

}  // namespace mlb::common
