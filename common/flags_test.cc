#include "common/flags.h"

#include <gtest/gtest.h>

namespace mlb::common {
namespace {

struct Settings {
  std::vector<std::string> urls;
  std::string dir = "/run/mlb";
  int count = 0;
  bool on = false;
};

using V = const std::vector<std::string>&;

const FlagTable<Settings>& table() {
  static const FlagTable<Settings> kTable = {
      {"--urls", FlagArity::Many,
       [](V v, Settings& s) -> Status {
         s.urls = v;
         return {};
       }},
      {"--dir", FlagArity::One,
       [](V v, Settings& s) -> Status {
         s.dir = v[0];
         return {};
       }},
      {"--count", FlagArity::One,
       [](V v, Settings& s) -> Status {
         auto n = parseIntFlag("--count", v[0], 0, 10);
         if (!n) {
           return n.error();
         }
         s.count = *n;
         return {};
       }},
      {"--on", FlagArity::Switch,
       [](V v, Settings& s) -> Status {
         s.on = switchSet(v);
         return {};
       }},
      {"--once", FlagArity::Switch, [](V, Settings&) -> Status { return {}; }, false},
  };
  return kTable;
}

CommandLineRules rules() {
  CommandLineRules r;
  r.aliases = {{"-u", "--urls"}, {"-o", "--on"}};
  r.ignored = {{"--old", FlagArity::One}};
  r.env_fallback = {{"--dir", "OTHER_DIR"}};
  return r;
}

Result<Settings> parse(const std::vector<std::string>& args,
                       const std::map<std::string, std::string>& env = {}) {
  Settings s;
  if (Status e = applyEnvironment(table(), env, s, rules()); !e) {
    return e.error();
  }
  auto line = readFlags(table(), args, rules());
  if (!line) {
    return line.error();
  }
  if (Status a = applyUses(table(), line->uses, s); !a) {
    return a.error();
  }
  return s;
}

TEST(Flags, ValuesSpacedOrAfterAnEqualsSignAManyFlagUpToTheNextOption) {
  auto s = parse({"-u", "http://a", "http://b", "--dir=/x", "-o", "--count", "3"});
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->urls, (std::vector<std::string>{"http://a", "http://b"}));
  EXPECT_EQ(s->dir, "/x");
  EXPECT_TRUE(s->on);
  EXPECT_EQ(s->count, 3);
}

TEST(Flags, TheCommandLineWinsOverTheEnvironment) {
  auto s = parse({"--dir", "/flag"}, {{"MLB_DIR", "/env"}, {"MLB_COUNT", "4"}});
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->dir, "/flag");
  EXPECT_EQ(s->count, 4);
  auto fallback = parse({}, {{"OTHER_DIR", "/other"}});
  ASSERT_TRUE(fallback);
  EXPECT_EQ(fallback->dir, "/other");
  auto empty = parse({}, {{"MLB_DIR", ""}});
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->dir, "/run/mlb");  // an empty variable is not set
}

TEST(Flags, ASwitchReadsTrueOrFalseWordsAndOneShotFlagsIgnoreTheEnvironment) {
  EXPECT_TRUE(parse({}, {{"MLB_ON", "true"}})->on);
  EXPECT_FALSE(parse({}, {{"MLB_ON", "0"}})->on);
  EXPECT_FALSE(parse({"--on=false"})->on);
  EXPECT_TRUE(parse({}, {{"MLB_ON", " Yes"}})->on);
  EXPECT_FALSE(parse({}, {{"MLB_ON", "OFF"}})->on);
  // The command line turns off what the environment turned on.
  EXPECT_FALSE(parse({"--on=0"}, {{"MLB_ON", "1"}})->on);
  auto bad = parse({}, {{"MLB_ON", "perhaps"}});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("MLB_ON"), std::string::npos) << bad.error().message;
  EXPECT_EQ(flagEnvName("--max-old-workers"), "MLB_MAX_OLD_WORKERS");
  EXPECT_TRUE(parse({}, {{"MLB_ONCE", "perhaps"}}));  // not read at all
}

TEST(Flags, ErrorsNameTheFlag) {
  for (const auto& [args, text] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--count", "11"}, "--count 11: not an integer in [0, 10]"},
           {{"--count", "-1"}, "--count -1: not an integer"},
           {{"--dir"}, "--dir needs a value"},
           {{"--dir", "--on"}, "--dir needs a value"},
           {{"--bogus"}, "unknown flag '--bogus'"},
           {{"stray"}, "unexpected argument 'stray'"}}) {
    auto s = parse(args);
    ASSERT_FALSE(s) << args[0];
    EXPECT_NE(s.error().message.find(text), std::string::npos) << s.error().message;
  }
}

TEST(Flags, IgnoredFlagsTakeTheirValueAndHelpStopsReading) {
  auto line = readFlags(table(), {"--old", "3", "--on", "--old"}, rules());
  ASSERT_TRUE(line) << line.error().message;
  ASSERT_EQ(line->uses.size(), 3u);
  EXPECT_TRUE(line->uses[0].ignored);
  EXPECT_EQ(line->uses[0].values, std::vector<std::string>{"3"});
  EXPECT_EQ(line->uses[1].name, "--on");
  EXPECT_TRUE(line->uses[2].ignored);  // its value may be missing
  auto help = readFlags(table(), {"--bogus", "-h"}, rules());
  ASSERT_TRUE(help);
  EXPECT_TRUE(help->help);
}

TEST(Flags, PositionalsWhereTheRulesAllowThem) {
  CommandLineRules r;
  r.positionals = true;
  auto line = readFlags(table(), {"a.json", "--count", "2", "-", "b.json"}, r);
  ASSERT_TRUE(line) << line.error().message;
  EXPECT_EQ(line->positionals, (std::vector<std::string>{"a.json", "-", "b.json"}));
}

TEST(Flags, NumbersAndSeconds) {
  EXPECT_EQ(*parseSecondsFlag("--s", "1.5"), std::chrono::milliseconds(1500));
  EXPECT_FALSE(parseSecondsFlag("--s", "-1"));
  EXPECT_FALSE(parseSecondsFlag("--s", "soon"));
  EXPECT_DOUBLE_EQ(*parseNumberFlag("--n", "0.25", 0, 1), 0.25);
  EXPECT_FALSE(parseNumberFlag("--n", "nan", 0, 1));
  EXPECT_FALSE(parseIntFlag("--i", "99999999999999999999", 0, 10));
  EXPECT_FALSE(parseIntFlag("--i", "", 0, 10));
  EXPECT_EQ(*parseIntFlag("--i", " 7 ", 0, 10), 7);  // blanks from YAML or an env file
  EXPECT_FALSE(parseIntFlag("--i", "7x", 0, 10));
}

}  // namespace
}  // namespace mlb::common
