#include "common/http/signal_endpoint.h"

#include <gtest/gtest.h>

#include <vector>

#include "common/testing/fake_clock.h"

namespace mlb::common {
namespace {

using std::chrono::milliseconds;
using testing::FakeClock;

TEST(SignalGateTest, AdmitsOnePerGap) {
  FakeClock clock;
  SignalGate gate(clock, milliseconds(1000));
  EXPECT_TRUE(gate.admit());
  EXPECT_FALSE(gate.admit());
  clock.advance(milliseconds(999));
  EXPECT_FALSE(gate.admit());
  clock.advance(milliseconds(1));
  EXPECT_TRUE(gate.admit());
}

TEST(SignalEndpointTest, RaisesTheSignalOnceAndRateLimitsTheRest) {
  FakeClock clock;
  SignalGate gate(clock, milliseconds(1000));
  std::vector<std::string> counted;
  auto handler = signalEndpoint(OperatorSignal::Usr1, gate,
                                [&](const std::string& r) { counted.push_back(r); });
  takeOperatorSignal(OperatorSignal::Usr1);  // clear anything earlier
  takeOperatorSignal(OperatorSignal::Hup);
  EXPECT_EQ(handler(HttpRequest{"GET", "/_mlb_signal/usr1", ""}).status, 202);
  EXPECT_EQ(handler(HttpRequest{"GET", "/_mlb_signal/usr1", ""}).status, 429);
  EXPECT_TRUE(takeOperatorSignal(OperatorSignal::Usr1));
  EXPECT_FALSE(takeOperatorSignal(OperatorSignal::Usr1));  // the 429 raised nothing
  EXPECT_FALSE(takeOperatorSignal(OperatorSignal::Hup));
  EXPECT_EQ(counted, (std::vector<std::string>{"accepted", "rate_limited"}));
}

TEST(SignalEndpointTest, ARefusalAndOtherMethodsRaiseNothing) {
  FakeClock clock;
  SignalGate gate(clock, milliseconds(1000));
  std::vector<std::string> counted;
  std::string why = "an earlier reload's old workers still drain";
  auto handler = signalEndpoint(
      OperatorSignal::Usr1, gate, [&](const std::string& r) { counted.push_back(r); },
      [&] { return why; });
  takeOperatorSignal(OperatorSignal::Usr1);
  auto r = handler(HttpRequest{"GET", "/_mlb_signal/usr1", ""});
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(r.body.find("old workers still drain"), std::string::npos);
  EXPECT_EQ(handler(HttpRequest{"HEAD", "/_mlb_signal/usr1", ""}).status, 405);
  EXPECT_FALSE(takeOperatorSignal(OperatorSignal::Usr1));
  why.clear();  // drained: the gate was not used by the refusal
  EXPECT_EQ(handler(HttpRequest{"POST", "/_mlb_signal/usr1", ""}).status, 202);
  EXPECT_TRUE(takeOperatorSignal(OperatorSignal::Usr1));
  EXPECT_EQ(counted, (std::vector<std::string>{"refused", "accepted"}));
}

}  // namespace
}  // namespace mlb::common
