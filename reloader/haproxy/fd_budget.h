#pragma once
// How many file descriptors HAProxy needs for a configuration: about two per
// connection (client and server side) up to the global maxconn, one per server for
// its health checks, and some for listeners, sockets and logs. HAProxy refuses to
// start (or exits later) under a lower limit; the entrypoint checks it first.
#include <string>

namespace mlb::reloader {

struct FdBudget {
  long maxconn = 0;  // global maxconn (0: none set)
  long servers = 0;  // `server` lines
  long needed = 0;   // 2 * maxconn + servers + a margin; 0 when maxconn is not set
};

// Reads the global section's maxconn and counts the server lines. Pure.
FdBudget planFdBudget(const std::string& config);

// The operator's fix when `soft`/`hard` (RLIMIT_NOFILE) are below the budget, or ""
// when the hard limit is enough (the soft one can be raised to it).
std::string fdBudgetProblem(const FdBudget& budget, long hard);

}  // namespace mlb::reloader
