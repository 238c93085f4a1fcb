#pragma once
// `mlb lint`: checks Marathon app definitions before they are deployed, with the
// controller's own model: what each service port would become, every label mlb would
// quarantine (errors), and every value it reads differently from how it looks
// (warnings: a boolean word read as false, an unknown label, a vhost list normalised).
#include <iosfwd>
#include <set>
#include <string>
#include <vector>

#include "cli/plain_http_get.h"
#include "common/fs/file_system.h"
#include "controller/model/marathon_app.h"
#include "controller/model/service_builder.h"
#include "controller/render/config_renderer.h"

namespace mlb::cli {

struct LintFinding {
  enum class Level { Error, Warning, Info };
  Level level = Level::Info;
  std::string app_id;
  std::string text;
};

// Pure: the findings for `apps` (as parsed from app definitions; apps without tasks
// get a stand-in task so that their services can be built), under `options` (groups,
// strict mode). The first `context` apps (the running ones) are only collided with:
// their own findings, and collisions among themselves, are not reported.
// `built_apps`, when given, receives the apps as built (stand-in ports and tasks).
std::vector<LintFinding> lintApps(const std::vector<controller::MarathonApp>& apps,
                                  const controller::BuildOptions& options, size_t context = 0,
                                  std::vector<controller::MarathonApp>* built_apps = nullptr);

// The controller's templates in `dir` (read through `fs`) rendered with `built` (apps
// as lintApps built them): a template that does not load, a global one that does not
// render (a HAPROXY_HEAD conflicting with mlb's stats socket under render.state_dir),
// an app of `linted` whose templates fail: errors.
std::vector<LintFinding> templateFindings(const std::string& dir,
                                          const std::vector<controller::MarathonApp>& built,
                                          const controller::BuildOptions& options,
                                          const controller::RenderOptions& render,
                                          const std::set<std::string>& linted,
                                          common::FileSystem& fs);

// Runs `mlb lint [--group G]... [--strict-mode] FILE...` (FILE: an app definition, a
// list of them, or a /v2/apps answer; "-" for stdin). Returns 1 when an app has an
// error or a file cannot be read, 2 for bad flags, else 0.
// `get` fetches --marathon's /v2/apps (unset: plainHttpGet); `fs` reads --templates-dir.
int runLint(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
            std::ostream& err, const HttpGetFn& get = {},
            common::FileSystem& fs = common::realFileSystem());

}  // namespace mlb::cli
