#include "common/log.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace mlb::common {
namespace {

// marathon-lb's --syslog-socket: each line also goes to the socket as a syslog message.
TEST(LogTest, LinesReachASyslogSocket) {
  const std::string path = ::testing::TempDir() + "/mlb-syslog-" + std::to_string(::getpid());
  ::unlink(path.c_str());
  int fd = ::socket(AF_UNIX, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string error;
  ASSERT_TRUE(logToSyslogSocket(path, "mlb-controller", error)) << error;
  logWarn("hello syslog", {{"app", "/web"}});
  char buf[2048];
  const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  ASSERT_GT(n, 0);
  const std::string got(buf, static_cast<size_t>(n));
  EXPECT_EQ(got.rfind("<12>mlb-controller: ts=", 0), 0u) << got;  // user.warning
  EXPECT_NE(got.find("level=warn msg=\"hello syslog\" app=/web"), std::string::npos) << got;
  EXPECT_EQ(got.find('\n'), std::string::npos) << got;
  // The syslog daemon restarts (its socket re-created): mlb connects again.
  ::close(fd);
  ::unlink(path.c_str());
  logWarn("lost: nobody listens");
  const int fd2 = ::socket(AF_UNIX, SOCK_DGRAM, 0);
  ASSERT_EQ(::bind(fd2, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::sleep(1);  // reconnects are at most once a second
  logWarn("after the restart");
  const ssize_t n2 = ::recv(fd2, buf, sizeof buf, MSG_DONTWAIT);
  ASSERT_GT(n2, 0);
  EXPECT_NE(std::string(buf, static_cast<size_t>(n2)).find("after the restart"), std::string::npos);
  fd = fd2;
  // /dev/null (marathon-lb's default) stops it.
  ASSERT_TRUE(logToSyslogSocket("/dev/null", "mlb-controller", error));
  logWarn("not sent");
  EXPECT_LT(::recv(fd, buf, sizeof buf, MSG_DONTWAIT), 0);
  ::close(fd);
  ::unlink(path.c_str());
  EXPECT_FALSE(logToSyslogSocket(path, "mlb-controller", error));
  EXPECT_NE(error.find(path), std::string::npos);
}

}  // namespace
}  // namespace mlb::common
