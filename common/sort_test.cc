#include "common/sort.h"

#include <gtest/gtest.h>

#include <string>

namespace mlb::common {
namespace {

struct Item {
  int key;
  std::string tag;
};

bool byKey(const Item& a, const Item& b) { return a.key < b.key; }

TEST(SortByPermutation, SortsAndKeepsEqualKeysInTheirOrder) {
  std::vector<Item> v = {{3, "a"}, {1, "b"}, {2, "c"}, {1, "d"}, {3, "e"}, {0, "f"}};
  sortByPermutation(v, byKey);
  std::string tags;
  for (const auto& i : v) {
    tags += std::to_string(i.key) + i.tag + " ";
  }
  EXPECT_EQ(tags, "0f 1b 1d 2c 3a 3e ");
}

TEST(SortByPermutation, SortedInputIsLeftAsItIs) {
  std::vector<Item> v = {{1, "a"}, {1, "b"}, {2, "c"}};
  const Item* data = v.data();
  sortByPermutation(v, byKey);
  EXPECT_EQ(v.data(), data);  // not reallocated: nothing moved
  EXPECT_EQ(v[1].tag, "b");
}

TEST(SortByPermutation, EmptyAndSingle) {
  std::vector<Item> empty;
  sortByPermutation(empty, byKey);
  EXPECT_TRUE(empty.empty());
  std::vector<Item> one = {{5, "x"}};
  sortByPermutation(one, byKey);
  EXPECT_EQ(one[0].tag, "x");
}

}  // namespace
}  // namespace mlb::common
