#include "controller/marathon/http_message.h"

#include <gtest/gtest.h>

namespace mlb::controller {
namespace {

TEST(ResponseHeader, AnyCaseFirstMatchBlanksAndEmptyValues) {
  const std::string head =
      "HTTP/1.1 302 Found: not a header\r\nLOCATION:   http://leader:8080/v2/events\r\n"
      "X-Empty:\r\nlocation: http://second\r\nContent-Type: text/event-stream";
  EXPECT_EQ(responseHeader(head, "location"), "http://leader:8080/v2/events");
  EXPECT_EQ(responseHeader(head, "content-type"), "text/event-stream");
  EXPECT_EQ(responseHeader(head, "x-empty"), "");
  EXPECT_EQ(responseHeader(head, "http/1.1 302 found"), "");  // the status line is no header
  EXPECT_EQ(responseHeader(head, "absent"), "");
  EXPECT_EQ(responseHeader("", "location"), "");
}

TEST(ParseUrl, SchemesPortsAndPaths) {
  auto u = parseUrl("https://marathon.mesos:8443/prefix");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "marathon.mesos");
  EXPECT_EQ(u->port, "8443");
  EXPECT_EQ(u->target, "/prefix");
  auto v6 = parseUrl("http://[::1]");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, "80");
  EXPECT_FALSE(parseUrl("ftp://x"));
  EXPECT_FALSE(parseUrl("nourl"));
  EXPECT_FALSE(parseUrl("http://:80"));  // no host
}

TEST(PlanRedirect, CredentialsOnlyToConfiguredMarathonsNeverHttpsToHttp) {
  const std::vector<std::string> configured = {"https://m1.example:8443", "http://m2:8080"};
  EXPECT_EQ(planRedirect("https://m1.example:8443", "http://m1.example:8443", configured),
            RedirectPolicy::Refuse);
  EXPECT_EQ(planRedirect("https://vip:8443", "https://M1.example:8443", configured),
            RedirectPolicy::FollowWithCredentials);
  EXPECT_EQ(planRedirect("http://vip:8080", "http://m2:8080", configured),
            RedirectPolicy::FollowWithCredentials);
  EXPECT_EQ(planRedirect("http://m2:8080", "http://evil:8080", configured),
            RedirectPolicy::FollowWithoutCredentials);
  EXPECT_EQ(planRedirect("http://m2:8080", "http://m2:9999", configured),
            RedirectPolicy::FollowWithoutCredentials);
  EXPECT_EQ(planRedirect("http://m2:8080", "not a url", configured), RedirectPolicy::Refuse);
}

}  // namespace
}  // namespace mlb::controller
