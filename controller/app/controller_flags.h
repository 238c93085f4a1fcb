#pragma once
// mlb-controller's flags, with marathon-lb's names and meanings where they apply.
// Every flag can also come from an environment variable MLB_<FLAG> (upper case,
// '-' -> '_'); a flag on the command line wins.
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/flags.h"
#include "common/log.h"
#include "controller/marathon/marathon_api.h"
#include "controller/sync/reconciler.h"
#include "controller/sync/sync_loop.h"

namespace mlb::controller {

struct ControllerFlags {
  MarathonConfig marathon;
  ReconcilerOptions reconcile;
  SyncLoopOptions loop;
  std::string state_dir = "/run/mlb";
  std::string templates_dir;
  std::string listen = "0.0.0.0:9102";
  int keep_bundles = 5;
  bool sse = true;  // false: poll every loop.resync_interval (--poll-interval)
  std::chrono::milliseconds silence_timeout{30000};
  bool validate = true;
  // `user:password@` taken out of a --marathon URL while parsing; becomes the basic
  // auth when no --auth-credentials is given, then cleared.
  std::string url_credentials;
  // marathon-lb's command line (see kMarathonLbOnly in controller_flags.cc).
  std::vector<std::string> notices;  // flags accepted that mlb does otherwise: one line each
  std::string haproxy_config;        // --haproxy-config: each published config is copied here
  bool dry = false;                  // --dry: fetch once, print the config, exit
  bool longhelp = false;             // --longhelp: print the label reference, exit
  bool help = false;                 // -h, --help: print the usage, exit
  std::optional<common::LogLevel> log_level;         // --log-level
  std::string syslog_socket;                         // --syslog-socket (marathon-lb's)
  std::chrono::milliseconds sse_backoff_max{30000};  // --max-backoff
};

// Parses argv (without the program name) over env. The error names the flag; `help`
// is set for -h/--help (nothing else is then checked).
common::Result<ControllerFlags> parseControllerFlags(const std::vector<std::string>& args,
                                                     const std::map<std::string, std::string>& env);

extern const char* const kControllerUsage;

// Marathon's credentials and TLS (--auth-credentials, --marathon-auth-credential-file,
// --marathon-auth-token-file, --dcos-auth-credentials, --marathon-ca-cert,
// --marathon-insecure-skip-verify): part of mlb-controller's flags, and `mlb deploy`'s.
const common::FlagTable<MarathonConfig>& marathonAuthFlags();
// They read DCOS_SERVICE_ACCOUNT_CREDENTIAL when MLB_DCOS_AUTH_CREDENTIALS is not set.
const common::CommandLineRules& marathonAuthRules();

}  // namespace mlb::controller
