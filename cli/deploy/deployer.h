#pragma once
// `mlb deploy`: drives one blue/green deployment through Marathon's API while the load
// balancers drain the old colour (mlb marks the old tasks that may go as MAINT, from the
// deployment labels; see controller/model/service_builder.cc). Each step: read both
// colours and every LB's stats for this app's backend only, kill the old tasks that
// are drained on every LB, grow the new colour; then delete the old app. On failure or
// timeout the old colour is scaled back and the new one removed (unless --no-rollback).
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "cli/deploy/bluegreen.h"
#include "cli/deploy/deploy_flags.h"
#include "cli/deploy/deploy_io.h"
#include "common/process/process_runner.h"

namespace mlb::cli::deploy {

struct DeployDeps {
  HttpClient& http;
  Clock& clock;
  common::ProcessRunner* hooks = nullptr;  // for --pre-kill-hook
  std::function<std::string()> authorization = [] { return std::string(); };
  std::function<std::vector<std::string>()> lb_urls;  // every LB address ({} : none)
  std::function<std::string()> started_at;            // HAPROXY_DEPLOYMENT_STARTED_AT value
  std::istream& in;                                   // prompts' answers
  std::ostream& out;                                  // the app JSON (as bluegreen_deploy.py)
  std::ostream& log;                                  // progress, one line per step
};

class Deployer {
 public:
  Deployer(DeployFlags flags, DeployDeps deps);
  // The whole deploy; the exit code (bluegreen_deploy.py's, see Exit).
  int run(const std::string& definition_text);

 private:
  struct Failure {
    Exit exit;
    std::string message;
  };
  struct Colours {
    Json old_app;
    Json new_app;
  };

  int start(const Json& definition, const std::optional<Json>& previous);
  int continueExisting(const std::vector<Json>& group);
  int drive(const std::string& old_id, const std::string& new_id, int cap);
  int finishFirst(const std::string& id);
  int rollBack(const std::string& old_id, const std::string& new_id, const std::string& why,
               int exit_code);
  int fail(const Failure& f);
  int failed(const std::string& old_id, const std::string& new_id, Failure f);

  common::Result<Json> marathon(const std::string& method, const std::string& path,
                                const Json* body = nullptr);
  common::Result<Json> fetchApp(const std::string& id);
  std::optional<Failure> fetchColours(const std::string& old_id, const std::string& new_id,
                                      Colours& out);
  common::Result<std::vector<std::vector<ServerStat>>> lbStats(const std::string& backend);
  std::optional<Failure> killAndGrow(const Colours& c, const std::vector<std::string>& kill,
                                     int next);
  std::optional<Failure> runHook(const Colours& c, const std::vector<std::string>& kill);
  bool confirm(const std::string& question);
  bool lbReloading();
  void progress(const Colours& c, const DrainView& v, int target);

  DeployFlags flags_;
  DeployDeps deps_;
  std::vector<std::string> lbs_;  // every LB address, resolved once
  double started_ = 0;
  int steps_ = 0;
  int killed_ = 0;
};

}  // namespace mlb::cli::deploy
