#include "reloader/app/reloader_flags.h"

#include <unistd.h>

#include <cstdlib>

#include "common/fs/files.h"

namespace mlb::reloader {
namespace {

bool toDouble(const std::string& flag, const std::string& v, double lo, double hi, double& out,
              std::string& err) {
  char* end = nullptr;
  double d = std::strtod(v.c_str(), &end);
  if (end == v.c_str() || *end != '\0' || d < lo || d > hi) {
    err = flag + " " + v + ": not a number in [" + std::to_string(lo) + ", " + std::to_string(hi) +
          "]";
    return false;
  }
  out = d;
  return true;
}

bool apply(const std::string& name, const std::string& v, ReloaderFlags& f, std::string& err) {
  double d = 0;
  if (name == "--state-dir") {
    f.reload.state_dir = common::absolutePath(v);
    while (f.reload.state_dir.size() > 1 && f.reload.state_dir.back() == '/') {
      f.reload.state_dir.pop_back();
    }
  } else if (name == "--haproxy-bin") {
    f.reload.haproxy_bin = v;
  } else if (name == "--listen") {
    f.listen = v;
  } else if (name == "--max-old-workers") {
    if (!toDouble(name, v, 0, 1000, d, err)) return false;
    f.reload.max_old_workers = static_cast<int>(d);
  } else if (name == "--max-drain-time") {
    if (!toDouble(name, v, 1, 86400 * 7, d, err)) return false;
    f.reload.max_drain_time = std::chrono::seconds(static_cast<int64_t>(d));
  } else if (name == "--stop-grace") {
    if (!toDouble(name, v, 0, 3600, d, err)) return false;
    f.reload.stop_grace = std::chrono::seconds(static_cast<int64_t>(d));
  } else if (name == "--min-reload-interval") {
    return toDouble(name, v, 0, 3600, f.min_reload_interval_s, err);
  } else if (name == "--recheck-interval") {
    return toDouble(name, v, 0.05, 3600, f.recheck_interval_s, err);
  } else if (name == "--wait-bundle") {
    return toDouble(name, v, 0, 86400, f.wait_bundle_s, err);
  } else if (name == "--drain-timeout") {
    if (!toDouble(name, v, 0, 86400, d, err)) return false;
    f.reload.drain_timeout = std::chrono::seconds(static_cast<int64_t>(d));
  } else if (name == "--drift-check-interval") {
    if (!toDouble(name, v, 1, 86400, d, err)) return false;
    f.reload.drift_check_interval = std::chrono::seconds(static_cast<int64_t>(d));
  } else if (name == "--no-runtime") {
    if (v != "true" && v != "1" && v != "false" && v != "0") {
      err = "--no-runtime: expected true or false";
      return false;
    }
    f.reload.runtime = v == "false" || v == "0";
  } else {
    err = "unknown flag '" + name + "'";
    return false;
  }
  return true;
}

const char* const kFlags[] = {"--state-dir",           "--haproxy-bin",          "--listen",
                              "--max-old-workers",     "--max-drain-time",       "--stop-grace",
                              "--min-reload-interval", "--recheck-interval",     "--wait-bundle",
                              "--drain-timeout",       "--drift-check-interval", "--no-runtime"};

}  // namespace

bool parseReloaderFlags(const std::vector<std::string>& args,
                        const std::map<std::string, std::string>& env, ReloaderFlags& out,
                        std::string& error) {
  for (const char* flag : kFlags) {
    std::string var = "MLB_";
    for (const char* p = flag + 2; *p; ++p) {
      var.push_back(*p == '-' ? '_' : static_cast<char>(std::toupper(*p)));
    }
    if (auto it = env.find(var); it != env.end() && !it->second.empty()) {
      if (!apply(flag, it->second, out, error)) {
        error = var + ": " + error;
        return false;
      }
    }
  }
  for (size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i], value;
    if (name == "--no-runtime") {
      out.reload.runtime = false;  // the one flag without a value
      continue;
    }
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else {
      if (i + 1 >= args.size()) {
        error = name + " needs a value";
        return false;
      }
      value = args[++i];
    }
    if (!apply(name, value, out, error)) {
      return false;
    }
  }
  if (::access(out.reload.haproxy_bin.c_str(), X_OK) != 0) {
    error = "--haproxy-bin " + out.reload.haproxy_bin + ": not an executable";
    return false;
  }
  return true;
}

}  // namespace mlb::reloader
