#include "common/sort.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
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

namespace mlb::common {
namespace {

// Every permutation of up to 7 elements, and larger shuffles past the 32-element
// stack buffer, come out sorted and stable.
TEST(SortByPermutation, AllSmallPermutationsAndLargeShuffles) {
  for (int n = 0; n <= 7; ++n) {
    std::vector<int> keys(static_cast<size_t>(n));
    std::iota(keys.begin(), keys.end(), 0);
    do {
      std::vector<Item> v;
      for (size_t i = 0; i < keys.size(); ++i) {
        v.push_back({keys[i] / 2, std::to_string(i)});  // pairs of equal keys
      }
      std::vector<Item> expected = v;
      std::stable_sort(expected.begin(), expected.end(), byKey);
      sortByPermutation(v, byKey);
      for (size_t i = 0; i < v.size(); ++i) {
        ASSERT_EQ(v[i].key, expected[i].key);
        ASSERT_EQ(v[i].tag, expected[i].tag);
      }
    } while (std::next_permutation(keys.begin(), keys.end()));
  }
  for (int n : {33, 100, 1000}) {
    std::vector<Item> v;
    uint32_t x = 12345;
    for (int i = 0; i < n; ++i) {
      x = x * 1103515245u + 12345u;
      v.push_back({static_cast<int>((x >> 16) % 50), std::to_string(i)});
    }
    std::vector<Item> expected = v;
    std::stable_sort(expected.begin(), expected.end(), byKey);
    sortByPermutation(v, byKey);
    for (size_t i = 0; i < v.size(); ++i) {
      ASSERT_EQ(v[i].tag, expected[i].tag) << n;
    }
  }
}

}  // namespace
}  // namespace mlb::common
