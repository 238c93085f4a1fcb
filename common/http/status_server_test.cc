#include "common/http/status_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>
#include <sys/socket.h>
#include <unistd.h>

namespace mlb::common {
namespace {

std::string httpGet(int port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "";
  }
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  (void)!::write(fd, req.data(), req.size());
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) {
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

TEST(StatusServer, ServesHandlersMetricsAnd404) {
  prometheus::Registry registry;
  auto& c = prometheus::BuildCounter().Name("mlb_test_things_total").Help("t").Register(registry);
  c.Add({{"result", "success"}}).Increment(3);
  auto server = startStatusServer("127.0.0.1:0", {{"/metrics", metricsHandler(registry)},
                                                  {"/healthz", [](const HttpRequest&) {
                                                     return HttpResponse{200, "text/plain", "ok\n"};
                                                   }}});
  ASSERT_TRUE(server) << server.error().message;
  int port = (*server)->port();
  ASSERT_GT(port, 0);
  auto metrics = httpGet(port, "/metrics");
  EXPECT_NE(metrics.find("HTTP/1.1 200"), std::string::npos);
  EXPECT_NE(metrics.find("mlb_test_things_total{result=\"success\"} 3"), std::string::npos);
  EXPECT_NE(httpGet(port, "/healthz").find("\r\n\r\nok\n"), std::string::npos);
  EXPECT_NE(httpGet(port, "/nope").find("HTTP/1.1 404"), std::string::npos);
}

TEST(StatusServer, BusyPortIsAnError) {
  auto a = startStatusServer("127.0.0.1:0", {});
  ASSERT_TRUE(a);
  auto b = startStatusServer("127.0.0.1:" + std::to_string((*a)->port()), {});
  EXPECT_FALSE(b);
}

}  // namespace
}  // namespace mlb::common
