#include "common/env.h"

#include <gtest/gtest.h>

#include <csignal>

namespace mlb::common {
namespace {

TEST(EnvironmentMap, SplitsOnTheFirstEqualsAndSkipsMalformedEntries) {
  char a[] = "MLB_GROUP=external";
  char b[] = "HAPROXY_GLOBAL_DEFAULT_OPTIONS=redispatch,httplog";
  char c[] = "OPTS=a=b=c";
  char d[] = "NOEQUALS";
  char e[] = "EMPTY=";
  char* envp[] = {a, b, c, d, e, nullptr};
  const auto env = environmentMap(envp);
  EXPECT_EQ(env.size(), 4u);
  EXPECT_EQ(env.at("MLB_GROUP"), "external");
  EXPECT_EQ(env.at("HAPROXY_GLOBAL_DEFAULT_OPTIONS"), "redispatch,httplog");
  EXPECT_EQ(env.at("OPTS"), "a=b=c");
  EXPECT_EQ(env.at("EMPTY"), "");
  EXPECT_EQ(env.count("NOEQUALS"), 0u);
  EXPECT_TRUE(environmentMap(nullptr).empty());
}

TEST(StopSignals, TermSetsTheFlagInsteadOfEndingTheProcessAndPipeIsIgnored) {
  installStopSignals();
  EXPECT_FALSE(stopRequested());
  ASSERT_EQ(std::raise(SIGPIPE), 0);  // would end the test binary if not ignored
  EXPECT_FALSE(stopRequested());
  ASSERT_EQ(std::raise(SIGTERM), 0);  // would end the test binary if not handled
  EXPECT_TRUE(stopRequested());
}

}  // namespace
}  // namespace mlb::common
