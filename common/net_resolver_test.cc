#include "common/net_resolver.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <thread>

namespace mlb::common {
namespace {

using namespace std::chrono_literals;

TEST(HostResolver, CachesAnswersAndFailuresForTheirTtl) {
  // Shared with the lookup threads, which may outlive the test body.
  auto calls = std::make_shared<std::atomic<int>>(0);
  auto now = std::make_shared<HostResolver::Clock::time_point>();
  HostResolver r(
      {1000ms, 10s, 2s, 100},
      [calls](const std::string& h) -> std::optional<std::string> {
        ++*calls;
        if (h == "agent-1") {
          return "10.0.0.1";
        }
        return std::nullopt;
      },
      [now] { return *now; });
  EXPECT_EQ(r.resolve("agent-1"), "10.0.0.1");
  EXPECT_EQ(r.resolve("agent-1"), "10.0.0.1");
  EXPECT_EQ(calls->load(), 1);
  EXPECT_EQ(r.resolve("nope"), std::nullopt);
  EXPECT_EQ(r.resolve("nope"), std::nullopt);
  EXPECT_EQ(calls->load(), 2);
  *now += 3s;  // the failure expired, the answer not
  EXPECT_EQ(r.resolve("nope"), std::nullopt);
  EXPECT_EQ(r.resolve("agent-1"), "10.0.0.1");
  EXPECT_EQ(calls->load(), 3);
  *now += 10s;  // expired: served while its refresh runs
  EXPECT_EQ(r.resolve("agent-1"), "10.0.0.1");
  for (int i = 0; i < 200 && calls->load() < 4; ++i) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(calls->load(), 4);
}

// A lookup that blocks until released (a slow DNS).
struct SlowDns {
  std::mutex m;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> calls{0};
  std::optional<std::string> answer(const std::string&) {
    ++calls;
    std::unique_lock<std::mutex> l(m);
    cv.wait(l, [&] { return release; });
    return std::optional<std::string>("10.0.0.9");
  }
  // The lookups started reach the DNS on their own threads: wait (bounded) for n.
  int waitCalls(int n) {
    for (int i = 0; i < 400 && calls.load() < n; ++i) {
      std::this_thread::sleep_for(5ms);
    }
    return calls.load();
  }
  void close() {
    std::lock_guard<std::mutex> l(m);
    release = false;
  }
  void open() {
    {
      std::lock_guard<std::mutex> l(m);
      release = true;
    }
    cv.notify_all();
  }
};

TEST(HostResolver, AnExpiredAnswerIsServedWhileItsSlowRefreshRuns) {
  // Tasks on named agents dropped out at each expiry when DNS answered slower than
  // the bound: an expired entry was not served while it refreshed.
  auto dns = std::make_shared<SlowDns>();
  dns->open();
  // Shared with the lookup threads, which may outlive the test body.
  auto now = std::make_shared<HostResolver::Clock::time_point>();
  HostResolver r(
      {50ms, 10s, 2s, 100}, [dns](const std::string& h) { return dns->answer(h); },
      [now] { return *now; });
  EXPECT_EQ(r.resolve("agent"), "10.0.0.9");
  dns->close();  // DNS turns slow
  *now += 9s;    // past 80% of the ttl: refreshed ahead, the answer serves
  EXPECT_EQ(r.resolve("agent"), "10.0.0.9");
  *now += 5s;  // expired, the refresh still running
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(r.resolve("agent"), "10.0.0.9");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 40ms);  // no wait for it
  EXPECT_EQ(dns->waitCalls(2), 2);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(dns->calls.load(), 2);  // one refresh at a time
  dns->open();
}

TEST(HostResolver, ARefreshThatFailsKeepsTheAnswer) {
  auto calls = std::make_shared<std::atomic<int>>(0);
  auto dns_down = std::make_shared<std::atomic<bool>>(false);
  // Shared with the lookup threads, which may outlive the test body.
  auto now = std::make_shared<HostResolver::Clock::time_point>();
  HostResolver r(
      {50ms, 10s, 2s, 100},
      [calls, dns_down](const std::string&) -> std::optional<std::string> {
        ++*calls;
        return *dns_down ? std::nullopt : std::optional<std::string>("10.0.0.7");
      },
      [now] { return *now; });
  EXPECT_EQ(r.resolve("agent"), "10.0.0.7");
  *dns_down = true;
  *now += 9s;  // refreshed ahead: the refresh fails
  EXPECT_EQ(r.resolve("agent"), "10.0.0.7");
  for (int i = 0; i < 200 && calls->load() < 2; ++i) {
    std::this_thread::sleep_for(5ms);
  }
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(r.resolve("agent"), "10.0.0.7");  // kept, not dropped
}

TEST(HostResolver, ColdNamesShareOneBoundAndResolveInParallel) {
  // Names were resolved one after another: N cold names blocked a pass N x 200 ms.
  auto dns = std::make_shared<SlowDns>();
  HostResolver r({100ms, 10s, 2s, 100}, [dns](const std::string& h) { return dns->answer(h); });
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(r.resolve("agent-" + std::to_string(i)), std::nullopt);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 400ms);  // one bound, not 8 x 100 ms
  EXPECT_EQ(dns->waitCalls(8), 8);  // all in flight at once, none answered yet
  dns->open();
}

TEST(HostResolver, ALateAnswerAsksForAPass) {
  // A name left out of a pass because DNS answered after the bound stayed out until
  // some other event caused a pass (issue 23's soak: the final config lacked the task).
  auto dns = std::make_shared<SlowDns>();
  auto late = std::make_shared<std::atomic<int>>(0);
  HostResolver r({20ms, 10s, 2s, 100}, [dns](const std::string& h) { return dns->answer(h); });
  r.onLateAnswer([late] { ++*late; });
  EXPECT_EQ(r.resolve("agent"), std::nullopt);  // cold, slower than the bound
  EXPECT_EQ(dns->waitCalls(1), 1);
  EXPECT_EQ(late->load(), 0);
  dns->open();
  for (int i = 0; i < 200 && late->load() == 0; ++i) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(late->load(), 1);
  EXPECT_EQ(r.resolve("agent"), "10.0.0.9");  // the pass it asked for has it
}

TEST(HostResolver, AnAnswerWithinTheBoundOrAfterOnLateAnswerClearedCallsNothing) {
  auto dns = std::make_shared<SlowDns>();
  dns->open();
  auto late = std::make_shared<std::atomic<int>>(0);
  HostResolver quick({1000ms, 10s, 2s, 100},
                     [dns](const std::string& h) { return dns->answer(h); });
  quick.onLateAnswer([late] { ++*late; });
  EXPECT_EQ(quick.resolve("agent"), "10.0.0.9");  // answered while waited for: no news
  HostResolver slow({20ms, 10s, 2s, 100}, [dns](const std::string& h) { return dns->answer(h); });
  slow.onLateAnswer([late] { ++*late; });
  slow.onLateAnswer({});
  dns->close();
  EXPECT_EQ(slow.resolve("agent"), std::nullopt);
  dns->open();
  EXPECT_EQ(dns->waitCalls(2), 2);
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(late->load(), 0);
}

TEST(HostResolver, ARefreshThatChangesTheAddressAsksForAPass) {
  auto address = std::make_shared<std::string>("10.0.0.1");
  auto mu = std::make_shared<std::mutex>();
  auto late = std::make_shared<std::atomic<int>>(0);
  // Read by the lookup threads too.
  auto now = std::make_shared<std::atomic<HostResolver::Clock::time_point>>();
  HostResolver r(
      {50ms, 10s, 2s, 100},
      [address, mu](const std::string&) {
        std::lock_guard<std::mutex> l(*mu);
        return std::optional<std::string>(*address);
      },
      [now] { return now->load(); });
  r.onLateAnswer([late] { ++*late; });
  EXPECT_EQ(r.resolve("agent"), "10.0.0.1");
  *now = now->load() + 9s;  // refreshed ahead, same answer: no news
  EXPECT_EQ(r.resolve("agent"), "10.0.0.1");
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(late->load(), 0);
  {
    std::lock_guard<std::mutex> l(*mu);
    *address = "10.0.0.2";  // the agent moved
  }
  *now = now->load() + 9s;
  EXPECT_EQ(r.resolve("agent"), "10.0.0.1");  // served while the refresh runs
  for (int i = 0; i < 200 && late->load() == 0; ++i) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(late->load(), 1);
  EXPECT_EQ(r.resolve("agent"), "10.0.0.2");
}

TEST(HostResolver, SeededAnswersServeAtOnceWhileASlowDnsRefreshesThem) {
  // A restarted controller with a slow DNS left every named agent's tasks out of its
  // first bundles (issue 23's soak): the answers kept from the last run serve.
  auto dns = std::make_shared<SlowDns>();  // closed: every lookup waits
  HostResolver r({20ms, 10s, 2s, 100}, [dns](const std::string& h) { return dns->answer(h); });
  r.seed({{"agent", "10.0.0.5"}});
  EXPECT_EQ(r.changes(), 0u);
  EXPECT_EQ(r.resolve("agent"), "10.0.0.5");  // the DNS is closed: the seed answered
  EXPECT_EQ(dns->waitCalls(1), 1);            // refreshed in the background
  dns->open();
  for (int i = 0; i < 200 && r.changes() == 0; ++i) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(r.changes(), 1u);  // 10.0.0.9 now: the file keeping them is rewritten
  EXPECT_EQ(r.resolve("agent"), "10.0.0.9");
  EXPECT_EQ(r.answers(), (std::map<std::string, std::string>{{"agent", "10.0.0.9"}}));
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
