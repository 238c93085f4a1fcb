#include "common/net_resolver.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>

namespace mlb::common {
namespace {

using namespace std::chrono_literals;

TEST(HostResolver, CachesAnswersAndFailuresForTheirTtl) {
  std::atomic<int> calls{0};
  HostResolver::Clock::time_point now{};
  HostResolver r(
      {1000ms, 10s, 2s, 100},
      [&](const std::string& h) -> std::optional<std::string> {
        ++calls;
        if (h == "agent-1") {
          return "10.0.0.1";
        }
        return std::nullopt;
      },
      [&] { return now; });
  EXPECT_EQ(r.resolve("agent-1"), "10.0.0.1");
  EXPECT_EQ(r.resolve("agent-1"), "10.0.0.1");
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(r.resolve("nope"), std::nullopt);
  EXPECT_EQ(r.resolve("nope"), std::nullopt);
  EXPECT_EQ(calls.load(), 2);
  now += 3s;  // the failure expired, the answer not
  EXPECT_EQ(r.resolve("nope"), std::nullopt);
  EXPECT_EQ(r.resolve("agent-1"), "10.0.0.1");
  EXPECT_EQ(calls.load(), 3);
  now += 10s;
  EXPECT_EQ(r.resolve("agent-1"), "10.0.0.1");
  EXPECT_EQ(calls.load(), 4);
}

TEST(HostResolver, ASlowLookupIsBoundedAndServesTheNextCall) {
  std::mutex m;
  std::condition_variable cv;
  bool release = false;
  auto r = std::make_unique<HostResolver>(HostResolver::Options{20ms, 10s, 2s, 100},
                                          [&](const std::string&) {
                                            std::unique_lock<std::mutex> l(m);
                                            cv.wait(l, [&] { return release; });
                                            return std::optional<std::string>("10.0.0.2");
                                          });
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(r->resolve("slow"), std::nullopt);  // not yet: the pass goes on without it
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  {
    std::lock_guard<std::mutex> l(m);
    release = true;
  }
  cv.notify_all();
  std::optional<std::string> got;
  for (int i = 0; i < 100 && !got; ++i) {
    got = r->resolve("slow");
  }
  EXPECT_EQ(got, "10.0.0.2");
}

TEST(HostResolver, LocalhostResolvesWithGetaddrinfo) {
  EXPECT_EQ(lookupIpv4("localhost"), "127.0.0.1");
  EXPECT_EQ(lookupIpv4("no-such-host.invalid"), std::nullopt);
}

}  // namespace
}  // namespace mlb::common
