#include "common/strings.h"

#include <gtest/gtest.h>

namespace mlb::common {
namespace {

TEST(SplitWords, AnyRunOfBlanksSeparates) {
  using V = std::vector<std::string>;
  EXPECT_EQ(splitWords("  server a  1.2.3.4:80\tid 7 \r"),
            (V{"server", "a", "1.2.3.4:80", "id", "7"}));
  EXPECT_EQ(splitWords("one"), V{"one"});
  EXPECT_TRUE(splitWords("").empty());
  EXPECT_TRUE(splitWords(" \t \n").empty());
  EXPECT_EQ(splitWords("a\vb\fc\nd"), (V{"a", "b", "c", "d"}));
}

TEST(SplitExact, KeepsEveryEntryEvenEmptyOnes) {
  using V = std::vector<std::string>;
  EXPECT_EQ(splitExact("a,,b", ','), (V{"a", "", "b"}));
  EXPECT_EQ(splitExact("a, b", ','), (V{"a", " b"}));
  EXPECT_EQ(splitExact("", ','), V{""});
  EXPECT_EQ(splitExact("realm:user:$6$x", ':'), (V{"realm", "user", "$6$x"}));
  EXPECT_EQ(splitExact("x,", ','), (V{"x", ""}));
}

TEST(SplitList, CommasAndBlanksSeparateAndEmptyItemsVanish) {
  using V = std::vector<std::string>;
  EXPECT_EQ(splitList("a,b c,,d\te\n"), (V{"a", "b", "c", "d", "e"}));
  EXPECT_EQ(splitList(" external "), V{"external"});
  EXPECT_TRUE(splitList(", ,").empty());
  EXPECT_TRUE(splitList("").empty());
}

TEST(ReplaceAll, ReplacesLeftToRightAndCounts) {
  std::string s = "aXbXXc";
  EXPECT_EQ(replaceAll(s, "X", "YY"), 3u);
  EXPECT_EQ(s, "aYYbYYYYc");
  EXPECT_EQ(toLower("MiXeD-1"), "mixed-1");
}

}  // namespace
}  // namespace mlb::common
