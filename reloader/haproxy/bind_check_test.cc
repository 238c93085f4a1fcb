#include "reloader/haproxy/bind_check.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>

#include "common/haproxy/config_check.h"

namespace mlb::reloader {
namespace {

// Ports in use as the test says.
class FakeProbe : public PortProbe {
 public:
  std::set<int> taken;
  std::vector<int> asked;
  bool canBind(const std::string&, int port) override {
    asked.push_back(port);
    return !taken.count(port);
  }
};

const std::string kLive =
    "global\n  daemon\nfrontend marathon_http_in\n  bind *:80\n"
    "frontend shop_10000\n  bind *:10000\n  mode http\n";

TEST(BindCheck, EveryTcpAddressOfEveryBindLine) {
  const auto b = bindAddresses(
      "frontend a\n  bind *:80,127.0.0.1:81 ssl crt /x\n  bind [::]:443 v4v6\n"
      "listen s\n  bind ipv4@10.0.0.1:9090\n  bind unix@/run/x.sock\n  bind :10000-10010\n");
  ASSERT_EQ(b.size(), 4u);
  EXPECT_EQ(b[0].frontend, "a");
  EXPECT_EQ(b[0].host, "0.0.0.0");
  EXPECT_EQ(b[1].port, 81);
  EXPECT_EQ(b[2].host, "::");
  EXPECT_EQ(b[2].line, 3);
  EXPECT_EQ(b[3].frontend, "s");
  EXPECT_EQ(b[3].host, "10.0.0.1");
}

TEST(BindCheck, ANewPortInUseIsAnAlertOnItsLineTheLiveOnesAreNotProbed) {
  // 2.6's haproxy -c does not bind: the reload failed with "show proc: failed 1" and
  // no line, and the NACK loop held every app back.
  FakeProbe probe;
  probe.taken = {80, 10001};
  const std::string next = kLive + "frontend other_10001\n  bind *:10001\n  mode tcp\n";
  const std::string alerts = newBindConflicts(kLive, next, "/s/bundles/v2/haproxy.cfg", probe);
  EXPECT_EQ(probe.asked, std::vector<int>{10001});  // :80 and :10000 are ours already
  const auto parsed = common::parseAlerts(alerts);
  ASSERT_EQ(parsed.size(), 1u);
  EXPECT_EQ(parsed[0].line, 9);
  EXPECT_NE(parsed[0].text.find("'other_10001'"), std::string::npos);
  EXPECT_NE(parsed[0].text.find("Address already in use"), std::string::npos);
  probe.taken.clear();
  EXPECT_EQ(newBindConflicts(kLive, next, "x", probe), "");
}

TEST(BindCheck, TheRealProbeSeesAListenerOnLoopback) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof a;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  const int port = ntohs(a.sin_port);
  EXPECT_FALSE(tcpPortProbe().canBind("127.0.0.1", port));
  EXPECT_FALSE(tcpPortProbe().canBind("0.0.0.0", port));
  ::close(fd);
  EXPECT_TRUE(tcpPortProbe().canBind("127.0.0.1", port));
}

}  // namespace
}  // namespace mlb::reloader
