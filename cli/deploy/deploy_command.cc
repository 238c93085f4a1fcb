#include "cli/deploy/deploy_command.h"

#include <sys/time.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/deploy/deployer.h"
#include "common/process/process_runner.h"
#include "controller/marathon/marathon_api.h"

namespace mlb::cli {
namespace {

// Python's datetime.now().isoformat(), as bluegreen_deploy.py stamps
// HAPROXY_DEPLOYMENT_STARTED_AT: local time with microseconds.
std::string localIsoNow() {
  timeval tv{};
  ::gettimeofday(&tv, nullptr);
  std::tm tm{};
  ::localtime_r(&tv.tv_sec, &tm);
  char buf[64];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%06ld", static_cast<long>(tv.tv_usec));
  return buf;
}

std::string withoutTrailingSlash(std::string url) {
  while (!url.empty() && url.back() == '/') {
    url.pop_back();
  }
  return url;
}

}  // namespace

int runDeploy(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
              std::istream& in, std::ostream& out, std::ostream& err) {
  using deploy::Exit;
  auto flags = deploy::parseDeployFlags(args, env);
  if (!flags) {
    err << "mlb deploy: " << flags.error().message << "\n" << deploy::kDeployUsage;
    return static_cast<int>(Exit::kInvalidArgs);
  }
  if (flags->help) {
    out << deploy::kDeployUsage;
    return 0;
  }
  std::ifstream file(flags->json);
  std::stringstream text;
  if (!file || !(text << file.rdbuf())) {
    err << "mlb deploy: --json " << flags->json << ": cannot read the file\n";
    return static_cast<int>(Exit::kInvalidArgs);
  }
  for (auto& url : flags->marathon) {
    url = withoutTrailingSlash(url);
  }
  flags->auth.urls = flags->marathon;
  auto marathon = controller::makeRestMarathonApi(flags->auth, nullptr);
  auto http = deploy::makeRestHttpClient(flags->auth.timeout_ms,
                                         {flags->auth.ca_cert, flags->auth.insecure_tls});
  auto clock = deploy::makeSystemClock();
  auto hooks = common::makeBoostProcessRunner();
  const std::string lb = withoutTrailingSlash(flags->marathon_lb);
  deploy::DeployDeps deps{*http,
                          *clock,
                          hooks.get(),
                          [&marathon] { return marathon->authorizationHeader(); },
                          [lb] { return deploy::resolveEveryAddress(lb); },
                          localIsoNow,
                          in,
                          out,
                          err};
  deploy::Deployer deployer(std::move(*flags), deps);
  try {
    return deployer.run(text.str());
  } catch (const std::exception& e) {  // a bug, or an answer no check foresaw
    err << "mlb deploy: unexpected error: " << e.what() << "\n";
    return static_cast<int>(Exit::kUnknown);
  }
}

}  // namespace mlb::cli
