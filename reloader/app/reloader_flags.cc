#include "reloader/app/reloader_flags.h"

#include <unistd.h>

#include "common/flags.h"
#include "common/fs/files.h"

namespace mlb::reloader {
namespace {

using common::FlagArity;
using common::Status;
using RF = ReloaderFlags;
using V = const std::vector<std::string>&;

// A number in [lo, hi] given to `store`.
template <typename Store>
common::Flag<RF> number(const char* name, double lo, double hi, Store store) {
  return common::parsedFlag<RF>(name, common::numberIn(lo, hi), store);
}

std::chrono::seconds wholeSeconds(double d) {
  return std::chrono::seconds(static_cast<int64_t>(d));
}

Status stateDir(V v, RF& f) {
  f.reload.state_dir = common::absolutePath(v[0]);
  while (f.reload.state_dir.size() > 1 && f.reload.state_dir.back() == '/') {
    f.reload.state_dir.pop_back();
  }
  return {};
}

const common::FlagTable<RF>& reloaderFlags() {
  static const common::FlagTable<RF> kFlags = {
      {"--state-dir", FlagArity::One, stateDir},
      common::textFlag<RF>("--haproxy-bin",
                           [](RF& f) -> std::string& { return f.reload.haproxy_bin; }),
      common::textFlag<RF>("--listen", [](RF& f) -> std::string& { return f.listen; }),
      number("--max-old-workers", 0, 1000,
             [](RF& f, double d) { f.reload.max_old_workers = static_cast<int>(d); }),
      number("--max-drain-time", 1, 86400 * 7,
             [](RF& f, double d) { f.reload.max_drain_time = wholeSeconds(d); }),
      number("--stop-grace", 0, 3600,
             [](RF& f, double d) { f.reload.stop_grace = wholeSeconds(d); }),
      number("--min-reload-interval", 0, 3600,
             [](RF& f, double d) { f.min_reload_interval_s = d; }),
      number("--recheck-interval", 0.05, 3600, [](RF& f, double d) { f.recheck_interval_s = d; }),
      number("--wait-bundle", 0, 86400, [](RF& f, double d) { f.wait_bundle_s = d; }),
      number("--drain-timeout", 0, 86400,
             [](RF& f, double d) { f.reload.drain_timeout = wholeSeconds(d); }),
      number("--drift-check-interval", 1, 86400,
             [](RF& f, double d) { f.reload.drift_check_interval = wholeSeconds(d); }),
      common::switchFlag<RF>(
          "--no-runtime", [](RF& f) -> bool& { return f.reload.runtime; }, false),
  };
  return kFlags;
}

}  // namespace

common::Result<ReloaderFlags> parseReloaderFlags(const std::vector<std::string>& args,
                                                 const std::map<std::string, std::string>& env,
                                                 ReloaderFlags out) {
  Status s = common::applyEnvironment(reloaderFlags(), env, out);
  if (s) {
    auto line = common::readFlags(reloaderFlags(), args);
    if (line && line->help) {
      s = common::Error::invalidArgument("--help: run `mlb-reloader --help` for the usage");
    } else {
      s = line ? common::applyUses(reloaderFlags(), line->uses, out) : Status(line.error());
    }
  }
  if (!s) {
    return s.error();
  }
  if (::access(out.reload.haproxy_bin.c_str(), X_OK) != 0) {
    return common::Error::invalidArgument("--haproxy-bin " + out.reload.haproxy_bin +
                                          ": not an executable");
  }
  return out;
}

}  // namespace mlb::reloader
