#include "controller/model/labels.h"

#include <gtest/gtest.h>

namespace mlb::controller {
namespace {

struct LabelCase {
  std::string name;
  std::string value;
  bool ok;
};

TEST(LabelsTest, ValidatesEveryValueAgainstItsType) {
  const std::vector<LabelCase> cases = {
      {"VHOST", "a.example.com,B.example.com", true},
      {"VHOST", "a.example.com\n  bind :1", false},
      {"VHOST", "a b", false},
      {"PORT", "10001", true},
      {"PORT", "http", false},
      {"PORT", "70000", false},
      {"BACKEND_WEIGHT", "5", true},
      {"BACKEND_WEIGHT", "heavy", false},
      {"MODE", "HTTP", true},
      {"MODE", "udp", false},
      {"STICKY", "yes", true},
      {"STICKY", "sometimes", true},  // false, as marathon-lb reads it
      {"AUTH", "realm:user:$6$hash", true},
      {"AUTH", "nouser", false},
      {"AUTH", "a:b:c:d", false},
      {"PATH", "-i /a /b", true},
      {"PATH", "/a\r", false},
      {"BACKEND_NETWORK_ALLOWED_ACL", "10.0.0.0/8 192.168.1.1", true},
      {"BACKEND_NETWORK_ALLOWED_ACL", "10.0.0.0/8 evil", false},
      {"BIND_ADDR", "127.0.0.1", true},
      {"BIND_ADDR", "1.2.3.4 ssl", false},
      {"BALANCE", "leastconn", true},
      {"BALANCE", "roundrobin\x01", false},
      {"BACKEND_HEALTHCHECK_PORT_INDEX", "1", true},
      {"BACKEND_HEALTHCHECK_PORT_INDEX", "-1", false},
      {"SOMETHING_UNKNOWN", "whatever\n", true},  // ignored, as marathon-lb does
  };
  for (const auto& c : cases) {
    Service s;
    const auto st = applyPortLabel(c.name, c.value, s);
    EXPECT_EQ(static_cast<bool>(st), c.ok) << c.name << "=" << c.value;
    if (!st) {
      EXPECT_NE(st.error().message.find(c.name), std::string::npos) << st.error().message;
    }
  }
}

TEST(LabelsTest, AppliesValues) {
  Service s;
  ASSERT_TRUE(applyPortLabel("VHOST", "A.example.com,b.example.com", s));
  EXPECT_EQ(s.hostname, "a.example.com,b.example.com");
  EXPECT_EQ(s.vhosts.size(), 2u);
  ASSERT_TRUE(applyPortLabel("PATH", "/api", s));
  EXPECT_EQ(s.backend_weight, 1);  // PATH bumps a zero weight
  ASSERT_TRUE(applyPortLabel("AUTH", "r:u:h", s));
  EXPECT_EQ(s.auth_realm, "r");
  EXPECT_EQ(s.auth_passwd, "h");
  ASSERT_TRUE(applyPortLabel("MODE", "TCP", s));
  EXPECT_EQ(s.mode, "tcp");
}

TEST(LabelsTest, ErrorsNameTheLabelWithItsPortIndex) {
  Service s;
  s.port_index = 2;
  auto st = applyPortLabel("PORT", "http", s);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message, "label HAPROXY_2_PORT: 'http' is not a port number (1-65535)");
  st = applyPortLabel("ENABLED", "bad\x01", s);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("label HAPROXY_2_ENABLED"), std::string::npos);
  ASSERT_TRUE(applyPortLabel("ENABLED", "false", s));
  EXPECT_EQ(s.enabled, false);
}

TEST(LabelsTest, VhostListsAreNormalisedAsMarathonLbRoutesThem) {
  Service s;
  ASSERT_TRUE(applyPortLabel("VHOST", "A.example.com, b.example.com ,", s));
  EXPECT_EQ(s.vhosts, (std::vector<std::string>{"a.example.com", "b.example.com"}));
  EXPECT_EQ(s.hostname, "a.example.com,b.example.com");
  EXPECT_FALSE(applyPortLabel("VHOST", " , ", s));
  EXPECT_FALSE(applyPortLabel("VHOST", "a.example.com b.example.com", s));  // one bad name
  EXPECT_FALSE(applyPortLabel("VHOST", "a.example.com,#x", s));
}

TEST(LabelsTest, BooleansReadAsMarathonLbReadsThem) {
  // true/t/yes/y in any case; every other word is false, never an error (marathon-lb
  // routes the app): "1" does not enable a port --strict-mode keeps closed.
  for (const char* yes : {"true", "TRUE", "t", "Yes", "y"}) {
    Service s;
    ASSERT_TRUE(applyPortLabel("ENABLED", yes, s)) << yes;
    EXPECT_EQ(s.enabled, true) << yes;
  }
  for (const char* no : {"false", "1", "0", "on", "enabled", " true", "", "maybe"}) {
    Service s;
    ASSERT_TRUE(applyPortLabel("ENABLED", no, s)) << no;
    EXPECT_EQ(s.enabled, false) << no;
    ASSERT_TRUE(applyPortLabel("STICKY", no, s)) << no;
    EXPECT_FALSE(s.sticky) << no;
  }
}

TEST(LabelsTest, TemplateLabelsKeepNewlinesButNotOtherControls) {
  Service s;
  ASSERT_TRUE(applyPortLabel("BACKEND_HEAD", "\r\nbackend {backend}\r\n", s));
  EXPECT_EQ(s.template_overrides.at("BACKEND_HEAD"), "\nbackend {backend}\n");
  EXPECT_FALSE(applyPortLabel("BACKEND_HEAD", "backend\x1b[0m", s));
}

TEST(LabelsTest, Helpers) {
  EXPECT_EQ(sanitizeName("a.b/c-d"), "a_b_c-d");
  EXPECT_TRUE(parseBool("T"));
  EXPECT_FALSE(parseBool("no"));
  EXPECT_FALSE(parseBool("maybe"));
  EXPECT_EQ(parseInt(" 12 ", 0, 100), 12);
  EXPECT_EQ(parseInt("12x", 0, 100), std::nullopt);
}

}  // namespace
}  // namespace mlb::controller
