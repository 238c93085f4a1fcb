#include "reloader/app/reloader_flags.h"

#include <gtest/gtest.h>

namespace mlb::reloader {
namespace {

bool parse(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
           ReloaderFlags& f, std::string& error) {
  ReloaderFlags defaults;
  defaults.reload.haproxy_bin = "/bin/sh";  // any executable: the parser checks it is one
  auto parsed = parseReloaderFlags(args, env, defaults);
  if (!parsed) {
    error = parsed.error().message;
    return false;
  }
  f = *parsed;
  return true;
}

TEST(ReloaderFlags, FlagsOverTheEnvironment) {
  ReloaderFlags f;
  std::string error;
  ASSERT_TRUE(parse(
      {"--state-dir", "/tmp/x//", "--max-old-workers=3", "--no-runtime", "--drain-timeout", "7"},
      {{"MLB_STATE_DIR", "/elsewhere"}, {"MLB_RECHECK_INTERVAL", "0.5"}}, f, error))
      << error;
  EXPECT_EQ(f.reload.state_dir, "/tmp/x");
  EXPECT_EQ(f.reload.max_old_workers, 3);
  EXPECT_FALSE(f.reload.runtime);
  EXPECT_EQ(f.reload.drain_timeout, std::chrono::seconds(7));
  EXPECT_DOUBLE_EQ(f.recheck_interval_s, 0.5);
  ReloaderFlags g;
  ASSERT_TRUE(parse({}, {{"MLB_NO_RUNTIME", "true"}}, g, error)) << error;
  EXPECT_FALSE(g.reload.runtime);
  ReloaderFlags h;
  ASSERT_TRUE(parse({}, {{"MLB_NO_RUNTIME", "0"}}, h, error)) << error;
  EXPECT_TRUE(h.reload.runtime);
  ReloaderFlags k;  // the command line overrides the environment both ways
  ASSERT_TRUE(parse({"--no-runtime=false"}, {{"MLB_NO_RUNTIME", "true"}}, k, error)) << error;
  EXPECT_TRUE(k.reload.runtime);
}

TEST(ReloaderFlags, BadValuesNameTheFlag) {
  for (const auto& args : std::vector<std::vector<std::string>>{{"--max-old-workers", "-1"},
                                                                {"--recheck-interval", "0"},
                                                                {"--drift-check-interval", "soon"},
                                                                {"--stop-grace"},
                                                                {"--bogus", "1"}}) {
    ReloaderFlags f;
    std::string error;
    EXPECT_FALSE(parse(args, {}, f, error)) << args[0];
    EXPECT_NE(error.find(args[0]), std::string::npos) << error;
  }
  ReloaderFlags f;
  std::string error;
  EXPECT_FALSE(parse({}, {{"MLB_NO_RUNTIME", "perhaps"}}, f, error));
  EXPECT_NE(error.find("MLB_NO_RUNTIME"), std::string::npos) << error;
  ReloaderFlags help;  // never a daemon started with its flags dropped
  EXPECT_FALSE(parse({"--state-dir", "/x", "--help"}, {}, help, error));
  EXPECT_NE(error.find("--help"), std::string::npos) << error;
  auto g = parseReloaderFlags({"--haproxy-bin", "/nonexistent/haproxy"}, {});
  ASSERT_FALSE(g);
  EXPECT_NE(g.error().message.find("not an executable"), std::string::npos);
}

}  // namespace
}  // namespace mlb::reloader
