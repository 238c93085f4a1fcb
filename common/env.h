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

// marathon-lb's operator signals: after installStopSignals(), SIGHUP ("fetch from
// Marathon and regenerate") and SIGUSR1 ("reload HAProxy") no longer kill the process;
// each sets a flag that takeOperatorSignal() reads and clears (several in a row are one).
enum class OperatorSignal { Hup, Usr1 };
bool takeOperatorSignal(OperatorSignal s);
// Sets the flag the signal sets, as if it had arrived (the /_mlb_signal/* endpoints).
void raiseOperatorSignal(OperatorSignal s);

}  // namespace mlb::common
