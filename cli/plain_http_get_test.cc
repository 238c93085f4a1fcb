// Integration: plainHttpGet against a real loopback socket.
#include "cli/plain_http_get.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

namespace mlb::cli {
namespace {

// Serves one connection with `reply`, then closes. Returns the port.
int serveOnce(const std::string& reply, std::thread& t, std::string& request) {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::listen(s, 1);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  t = std::thread([s, reply, &request] {
    const int c = ::accept(s, nullptr, nullptr);
    char buf[4096];
    const ssize_t n = ::recv(c, buf, sizeof buf, 0);
    request.assign(buf, n > 0 ? static_cast<size_t>(n) : 0);
    ::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
    ::close(c);
    ::close(s);
  });
  return ntohs(a.sin_port);
}

TEST(PlainHttpGetTest, ReadsAChunkedAnswer) {
  std::thread t;
  std::string request;
  const int port = serveOnce(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
      "chunked\r\n\r\n5\r\n{\"app\r\n6\r\ns\":[]}\r\n0\r\n\r\n",
      t, request);
  auto r = plainHttpGet("http://127.0.0.1:" + std::to_string(port) + "/v2/apps", 5000);
  t.join();
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "{\"apps\":[]}");
  EXPECT_EQ(request.rfind("GET /v2/apps HTTP/1.1\r\n", 0), 0u) << request;
}

TEST(PlainHttpGetTest, AnAnswerCutShortIsAnError) {
  std::thread t;
  std::string request;
  const int port =
      serveOnce("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"apps\":[", t, request);
  auto r = plainHttpGet("http://127.0.0.1:" + std::to_string(port) + "/v2/apps", 5000);
  t.join();
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("ended after 9 of 100 bytes"), std::string::npos)
      << r.error().message;
}

TEST(PlainHttpGetTest, RefusesHttpsAndReportsAClosedPort) {
  auto tls = plainHttpGet("https://127.0.0.1:1/v2/apps", 1000);
  ASSERT_FALSE(tls.has_value());
  EXPECT_NE(tls.error().message.find("curl"), std::string::npos);
  auto closed = plainHttpGet("http://127.0.0.1:1/v2/apps", 1000);
  ASSERT_FALSE(closed.has_value());
  EXPECT_NE(closed.error().message.find("127.0.0.1:1"), std::string::npos);
}

}  // namespace
}  // namespace mlb::cli
