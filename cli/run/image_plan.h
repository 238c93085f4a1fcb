#pragma once
// `mlb-run sse|poll [marathon-lb args]`: marathon-lb's image interface (its `run`
// script) read into what the one-container mode starts. Pure: the environment and the
// one directory check come in as values.
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"

namespace mlb::cli {

// One supervised process. `stop_signal` asks it to stop gracefully: SIGTERM for mlb's
// binaries, SIGUSR1 (soft stop: finish the open connections) for HAProxy's master.
struct ChildSpec {
  std::string name;
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;  // added to the supervisor's environment
  int stop_signal = 0;
  // Variables of the supervisor's environment this child does not get (secrets it has
  // no use for: HAProxy expands "${NAME}" in its configuration); "NAME*" is a prefix.
  std::vector<std::string> drop_env;
};

// Overwrites, in place, the secrets of a command line (the values of
// --auth-credentials and --dcos-auth-credentials, the user:password of a URL) with
// '*': with --pid=host every process of the host reads /proc/<pid>/cmdline, which
// shows this memory. Call it on main's argv once the arguments are copied.
void scrubSecretArguments(int argc, char** argv);

// Whether `name` is one of spec.drop_env.
bool dropsVariable(const ChildSpec& spec, const std::string& name);

struct FileToWrite {
  std::string path;
  std::string content;
};

struct ImagePlan {
  std::vector<ChildSpec> children;   // controller, reloader (watch), haproxy
  std::vector<FileToWrite> files;    // certificates given in HAPROXY_SSL_CERT*
  std::vector<std::string> notices;  // what marathon-lb's image read that mlb does otherwise
};

struct ImageInput {
  std::vector<std::string> args;  // sse|poll, then marathon_lb.py's arguments
  std::map<std::string, std::string> env;
  std::string cert_dir = "/etc/mlb";                     // where HAPROXY_SSL_CERT* are written
  std::function<bool(const std::string&)> is_directory;  // $MESOS_SANDBOX/templates
};

// The plan, or an error naming the problem (an unknown mode, as marathon-lb's `run`).
common::Result<ImagePlan> planImageRun(const ImageInput& in);

// `echo -e` of a certificate given in the environment (marathon-lb wrote it so):
// \n, \t, \r and \\ become the characters they name.
std::string expandEchoEscapes(const std::string& text);

extern const char* const kImageRunUsage;

}  // namespace mlb::cli
