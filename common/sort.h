#pragma once
// Sorting for vectors of large objects.
#include <algorithm>
#include <array>
#include <numeric>
#include <utility>
#include <vector>

namespace mlb::common {

// Stable-sorts `items` by `less`. Positions are sorted, then the elements are put
// in place by following the permutation's cycles with swaps: no temporary copy of
// the elements, and no allocation for up to 32 elements. Nothing moves when
// `items` is already in order. For elements of hundreds of bytes, where
// std::stable_sort's repeated moves and temporary buffer cost more than the
// comparisons.
template <typename T, typename Less>
void sortByPermutation(std::vector<T>& items, Less less) {
  if (std::is_sorted(items.begin(), items.end(), less)) {
    return;
  }
  const size_t n = items.size();
  std::array<size_t, 32> small{};
  std::vector<size_t> large;
  size_t* order = small.data();
  if (n > small.size()) {
    large.resize(n);
    order = large.data();
  }
  std::iota(order, order + n, size_t{0});
  std::stable_sort(order, order + n, [&](size_t a, size_t b) { return less(items[a], items[b]); });
  // order[i] is the index of the element that belongs at i. Walk each cycle once,
  // marking visited positions by pointing them at themselves.
  for (size_t start = 0; start < n; ++start) {
    size_t i = start;
    while (order[i] != start) {
      const size_t from = order[i];
      std::swap(items[i], items[from]);
      order[i] = i;
      i = from;
    }
    order[i] = i;
  }
}

}  // namespace mlb::common
