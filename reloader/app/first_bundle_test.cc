#include "reloader/app/first_bundle.h"

#include <gtest/gtest.h>

#include "common/testing/fake_clock.h"

namespace mlb::reloader {
namespace {

using std::chrono::seconds;

// A check without a verdict was retried every 100 ms for the whole wait (300 s by
// default: ~3000 haproxy -c on a host already too loaded to finish one).
TEST(FirstBundleTest, ACheckWithoutAVerdictIsRetriedWithBackoff) {
  common::testing::FakeClock clock;
  int checks = 0;
  FirstBundleSource src{[] { return std::string("v1"); },
                        [&](const std::string&) -> common::Status {
                          ++checks;
                          return common::Error{common::ErrorCode::Unavailable, "timed out"};
                        }};
  EXPECT_EQ(waitForFirstBundle(src, clock, seconds(60)), "");
  // 1, 2, 4, 8, 16, 16 ... s (jittered down to half): at most ~10 checks in 60 s.
  EXPECT_GE(checks, 4);
  EXPECT_LE(checks, 14);
}

TEST(FirstBundleTest, ARejectedVersionWaitsForTheNextAndAValidOneIsChosen) {
  common::testing::FakeClock clock;
  const auto start = clock.now();
  std::string current = "v1";
  int checks_v1 = 0;
  FirstBundleSource src{[&] {
                          if (clock.now() - start > seconds(5)) {  // the controller publishes v2
                            current = "v2";
                          }
                          return current;
                        },
                        [&](const std::string& v) -> common::Status {
                          if (v == "v1") {
                            ++checks_v1;
                            return common::Error::invalidData("[ALERT] bad");
                          }
                          return {};
                        }};
  EXPECT_EQ(waitForFirstBundle(src, clock, seconds(60)), "v2");
  EXPECT_EQ(checks_v1, 1);  // a verdict is not asked again
}

// A new bundle is not held behind the backoff of one whose check gave no verdict.
TEST(FirstBundleTest, ANewBundleIsCheckedAtOnce) {
  common::testing::FakeClock clock;
  const auto start = clock.now();
  common::Clock::TimePoint v2_seen{};
  FirstBundleSource src{[&] {
                          if (clock.now() - start < seconds(20)) {
                            return std::string("v1");
                          }
                          if (v2_seen == common::Clock::TimePoint{}) {
                            v2_seen = clock.now();
                          }
                          return std::string("v2");
                        },
                        [](const std::string& v) -> common::Status {
                          if (v == "v1") {
                            return common::Error{common::ErrorCode::Unavailable, "timed out"};
                          }
                          return {};
                        }};
  EXPECT_EQ(waitForFirstBundle(src, clock, seconds(60)), "v2");
  EXPECT_LE(clock.now() - v2_seen, std::chrono::milliseconds(200));
}

TEST(FirstBundleTest, NothingPublishedMeansTheBootstrapAfterTheWait) {
  common::testing::FakeClock clock;
  const auto start = clock.now();
  FirstBundleSource src{[] { return std::string(); },
                        [](const std::string&) -> common::Status { return {}; }};
  EXPECT_EQ(waitForFirstBundle(src, clock, seconds(30)), "");
  EXPECT_GE(clock.now() - start, seconds(30));
  EXPECT_LT(clock.now() - start, seconds(31));
}

}  // namespace
}  // namespace mlb::reloader
