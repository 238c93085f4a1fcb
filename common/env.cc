#include "common/env.h"

#include <atomic>
#include <csignal>

namespace mlb::common {
namespace {

std::atomic<bool> g_stop{false};
std::atomic<bool> g_hup{false};
std::atomic<bool> g_usr1{false};

extern "C" void onStopSignal(int) { g_stop = true; }
extern "C" void onOperatorSignal(int sig) {
  if (sig == SIGHUP) {
    g_hup = true;
  } else {
    g_usr1 = true;
  }
}

}  // namespace

std::map<std::string, std::string> environmentMap(char** envp) {
  std::map<std::string, std::string> env;
  for (char** e = envp; e != nullptr && *e != nullptr; ++e) {
    const std::string kv = *e;
    if (auto eq = kv.find('='); eq != std::string::npos) {
      env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
  }
  return env;
}

void installStopSignals() {
  std::signal(SIGTERM, onStopSignal);
  std::signal(SIGINT, onStopSignal);
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGHUP, onOperatorSignal);
  std::signal(SIGUSR1, onOperatorSignal);
}

bool takeOperatorSignal(OperatorSignal s) {
  return (s == OperatorSignal::Hup ? g_hup : g_usr1).exchange(false);
}

void raiseOperatorSignal(OperatorSignal s) { (s == OperatorSignal::Hup ? g_hup : g_usr1) = true; }

bool stopRequested() { return g_stop; }

}  // namespace mlb::common
