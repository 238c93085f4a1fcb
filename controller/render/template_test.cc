#include "controller/render/template.h"

#include <gtest/gtest.h>

#include "common/testing/fake_file_system.h"
#include "controller/render/template_set.h"

namespace mlb::controller {
namespace {

Vars allVars(std::vector<std::string>& storage) {
  Vars v;
  storage.reserve(kVarCount);
  for (size_t i = 0; i < kVarCount; ++i) {
    storage.push_back("<" + std::string(varName(static_cast<Var>(i))) + " & \"q\">");
    v.set(static_cast<Var>(i), storage.back());
  }
  return v;
}

TEST(TemplateTest, FastPathRendersLikeKainjowForEveryDefaultTemplate) {
  std::vector<std::string> storage;
  const Vars vars = allVars(storage);
  auto set = TemplateSet::load("", {});
  ASSERT_TRUE(set.has_value()) << set.error().message;
  ASSERT_EQ(builtinTemplates().size(), 53u);  // marathon-lb's 53 template names
  for (const auto& [name, text] : builtinTemplates()) {
    const Template& t = set->get(name);
    EXPECT_FALSE(t.usesKainjow()) << name;
    std::string fast, slow;
    ASSERT_TRUE(t.render(vars, fast)) << name;
    ASSERT_TRUE(t.renderWithKainjow(vars, slow)) << name;
    EXPECT_EQ(fast, slow) << name;
  }
}

TEST(TemplateTest, NoHtmlEscaping) {
  auto t = Template::compile("acl a hdr(host) -i {{hostname}} {{{backend}}}");
  ASSERT_TRUE(t.has_value());
  Vars v;
  v.set(Var::hostname, "a&b<c>");
  v.set(Var::backend, "x&y");
  std::string out;
  ASSERT_TRUE(t->render(v, out));
  EXPECT_EQ(out, "acl a hdr(host) -i a&b<c> x&y");
}

TEST(TemplateTest, SectionsGoThroughKainjow) {
  auto t = Template::compile("{{#sslCert}}ssl on{{/sslCert}}{{^sslCert}}plain{{/sslCert}}");
  ASSERT_TRUE(t.has_value()) << t.error().message;
  EXPECT_TRUE(t->usesKainjow());
  Vars v;
  v.set(Var::sslCert, "x");
  std::string out;
  ASSERT_TRUE(t->render(v, out));
  EXPECT_EQ(out, "ssl on");
}

TEST(TemplateTest, UnknownMissingAndBrokenAreErrors) {
  auto unknown = Template::compile("backend {{oops}}");
  ASSERT_FALSE(unknown.has_value());
  EXPECT_NE(unknown.error().message.find("oops"), std::string::npos);
  EXPECT_FALSE(Template::compile("{{#backend}}never closed").has_value());
  EXPECT_FALSE(Template::compile("{{> partial}}").has_value());
  auto t = Template::compile("server {{serverName}}");
  ASSERT_TRUE(t.has_value());
  std::string out = "kept";
  auto st = t->render(Vars{}, out);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("serverName"), std::string::npos);
  EXPECT_EQ(out, "kept");
}

TEST(TemplateTest, TranslatesMarathonLbPlaceholders) {
  auto m = translateLegacyTemplate(
      "  use_backend {backend} if {{ ssl_fc_sni -i {hostname} }}\n  redirect if !{{ ssl_fc }}\n");
  ASSERT_TRUE(m.has_value()) << m.error().message;
  EXPECT_EQ(
      *m,
      "  use_backend {{backend}} if { ssl_fc_sni -i {{hostname}} }\n  redirect if !{ ssl_fc }\n");
  auto bad = translateLegacyTemplate("backend {oops}\n");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("{oops}"), std::string::npos);
  EXPECT_FALSE(translateLegacyTemplate("{backend:>10}").has_value());
  EXPECT_FALSE(translateLegacyTemplate("{0}").has_value());
  EXPECT_FALSE(translateLegacyTemplate("unbalanced }").has_value());
}

TEST(TemplateSetTest, EnvironmentOverridesInMarathonLbSyntax) {
  auto set =
      TemplateSet::load("", {{"HAPROXY_BACKEND_HEAD", "\\nbackend {backend}\\n  mode {mode}\\n"},
                             {"HAPROXY_SSL_CERT", "not a template"}});
  ASSERT_TRUE(set.has_value()) << set.error().message;
  EXPECT_EQ(set->get("BACKEND_HEAD").text(), "\nbackend {{backend}}\n  mode {{mode}}\n");
  EXPECT_EQ(set->origins().at("BACKEND_HEAD"), "env HAPROXY_BACKEND_HEAD");
  auto bad = TemplateSet::load("", {{"HAPROXY_FRONTEND_HEAD", "frontend {nope}"}});
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("HAPROXY_FRONTEND_HEAD"), std::string::npos);
}

TEST(TemplateSetTest, TemplatesDirAcceptsBothSyntaxesAndRejectsUnknownNames) {
  common::testing::FakeFileSystem fs(
      {{"/t/HAPROXY_FRONTEND_BACKEND_GLUE", "  default_backend {backend}\n"},
       {"/t/HAPROXY_BACKEND_HEAD.mustache", "\nbackend {{backend}}\n"},
       {"/t/README", "not a template file: skipped"}});
  auto set = TemplateSet::load("/t", {}, fs);
  ASSERT_TRUE(set.has_value()) << set.error().message;
  EXPECT_EQ(set->get("FRONTEND_BACKEND_GLUE").text(), "  default_backend {{backend}}\n");
  EXPECT_EQ(set->get("BACKEND_HEAD").text(), "\nbackend {{backend}}\n");
  EXPECT_EQ(set->origins().at("BACKEND_HEAD"), "/t/HAPROXY_BACKEND_HEAD.mustache");
  // An environment variable wins over the directory.
  auto env = TemplateSet::load("/t", {{"HAPROXY_BACKEND_HEAD", "\\nbackend {backend}\\n"}}, fs);
  ASSERT_TRUE(env.has_value()) << env.error().message;
  EXPECT_EQ(env->origins().at("BACKEND_HEAD"), "env HAPROXY_BACKEND_HEAD");
  ASSERT_TRUE(fs.writeNewFile("/t/HAPROXY_NOT_A_TEMPLATE.mustache", ""));
  auto unknown = TemplateSet::load("/t", {}, fs);
  ASSERT_FALSE(unknown.has_value());
  EXPECT_NE(unknown.error().message.find("HAPROXY_NOT_A_TEMPLATE is not a template name"),
            std::string::npos);
  auto missing = TemplateSet::load("/nowhere", {}, fs);
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().message.find("--templates-dir /nowhere"), std::string::npos);
}

}  // namespace
}  // namespace mlb::controller
