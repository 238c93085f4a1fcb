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

TEST(ReplaceAll, ReplacesLeftToRightAndCounts) {
  std::string s = "aXbXXc";
  EXPECT_EQ(replaceAll(s, "X", "YY"), 3u);
  EXPECT_EQ(s, "aYYbYYYYc");
  EXPECT_EQ(toLower("MiXeD-1"), "mixed-1");
}

}  // namespace
}  // namespace mlb::common
