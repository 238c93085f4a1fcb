#include "controller/render/injection_check.h"

#include <gtest/gtest.h>

namespace mlb::controller::injection {
namespace {

// Values a hostile or broken Marathon could send in any string field.
const std::vector<std::string>& hostileValues() {
  static const std::vector<std::string> kValues = {
      "9.0.0.1:1 check\n  server evil 6.6.6.6",
      "x\n  server evil 6.6.6.6:80",
      "x\nbackend evil\n  server evil 6.6.6.6:80",
      "x\r\n  bind :1",
      "x\rbind :1",
      "\nglobal\n  stats socket /tmp/evil.sock level admin",
      "x\n",
      "\n",
      std::string("x\0y", 3),
      "x\ty",
      "x\x0b\x0c\x7f",
      "x #\n  http-request deny",
      "' \" \\ } { {{x}} {x}",
      "a b c",
      "127.0.0.1 backup",
      "::1",
      "10.0.0.1",
      "localhost",
      "/shop/web2",
      "/?>\xa5\xf4\xfc\x7f",
      "/a b",
      "/a_b",
      "",
      " ",
      std::string(5000, 'a'),
  };
  return kValues;
}

class InjectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TemplateSet::load("", {});
    ASSERT_TRUE(t);
    templates_ = std::make_unique<TemplateSet>(std::move(*t));
    vocab_ = baseVocabulary(*templates_);
  }
  std::unique_ptr<TemplateSet> templates_;
  Vocabulary vocab_;
};

TEST_F(InjectionTest, TheTrustedAnswerUsesEveryFeatureAndPassesTheAudit) {
  EXPECT_TRUE(check(-1, "", *templates_, vocab_));
  EXPECT_GE(vocab_.keywords.size(), 30u);
  for (const char* kw : {"server", "balance", "http-response", "acl", "use_backend", "bind"}) {
    bool found = false;
    for (const auto& [kind, token] : vocab_.keywords) {
      found = found || token == kw;
    }
    EXPECT_TRUE(found) << kw;
  }
}

TEST_F(InjectionTest, AuditCatchesAnAddedServerLineSectionAndDirective) {
  ASSERT_TRUE(check(-1, "", *templates_, vocab_));
  // The audit itself: a config with one more server, a foreign section, a control char.
  std::string body = answer(-1, "");
  ServiceModel model;  // an empty model accounts for no backend
  EXPECT_FALSE(auditConfig("global\n  daemon\nbackend x\n  server a 1.1.1.1:1\n", model, vocab_));
  EXPECT_FALSE(auditConfig("global\r\n", model, vocab_));
}

TEST_F(InjectionTest, NoHostileValueInAnySlotAddsALineSectionOrDirective) {
  for (int slot = 0; slot < slotCount(); ++slot) {
    for (const auto& v : hostileValues()) {
      common::Status kept = check(slot, v, *templates_, vocab_);
      EXPECT_TRUE(kept) << (kept ? "" : kept.error().message) << " slot " << slotName(slot)
                        << " value '" << v << "'";
    }
  }
}

}  // namespace
}  // namespace mlb::controller::injection
