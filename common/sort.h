#pragma once
// Sorting for vectors of large objects.
#include <algorithm>
#include <numeric>
#include <utility>
#include <vector>

namespace mlb::common {

// Stable-sorts `items` by `less`, moving each element at most once: positions are
// sorted, then the elements are moved into place. Nothing moves when `items` is
// already in order. For elements of hundreds of bytes, where std::stable_sort's
// repeated moves and temporary buffer cost more than the comparisons.
template <typename T, typename Less>
void sortByPermutation(std::vector<T>& items, Less less) {
  if (std::is_sorted(items.begin(), items.end(), less)) {
    return;
  }
  std::vector<size_t> order(items.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return less(items[a], items[b]); });
  std::vector<T> sorted;
  sorted.reserve(items.size());
  for (size_t i : order) {
    sorted.push_back(std::move(items[i]));
  }
  items = std::move(sorted);
}

}  // namespace mlb::common
