// The value-independent parts of the in-memory store (include/cachet/detail/memory/): the
// compact key, the index-linked LRU order and the table of loads under way. The store itself is
// tested through cached<>.

#include <cachet/detail/memory/flight_table.hpp>
#include <cachet/detail/memory/lru_order.hpp>
#include <cachet/detail/memory/stored_key.hpp>

#include <gtest/gtest.h>

#include <deque>
#include <set>
#include <string>
#include <string_view>
#include <utility>

namespace {

using cachet::detail::flight_header;
using cachet::detail::flight_table;
using cachet::detail::hashed_key;
using cachet::detail::lru_order;
using cachet::detail::stored_key;

TEST(stored_key, keeps_keys_of_every_length_across_the_inline_boundary) {
  for (std::size_t n : {0u, 1u, 8u, 11u, 12u, 40u}) {
    const std::string text(n, 'k');
    std::string other = text;
    if (n > 0) other.back() = 'x';
    const stored_key key(text);
    EXPECT_EQ(key.view(), text) << n;
    EXPECT_TRUE(key.equals(text)) << n;
    EXPECT_FALSE(key.equals(other + "y")) << n;
    if (n > 0) {
      EXPECT_FALSE(key.equals(other)) << n;
    }
  }
}

TEST(stored_key, keeps_binary_bytes_including_zeros) {
  const std::string text("\0\x01\0\xff", 4);
  EXPECT_EQ(stored_key(text).view(), text);
}

TEST(stored_key, a_moved_key_owns_the_bytes_and_the_source_is_empty) {
  stored_key heap(std::string(20, 'h'));
  stored_key moved(std::move(heap));
  EXPECT_EQ(moved.view(), std::string(20, 'h'));
  EXPECT_TRUE(heap.view().empty());
  stored_key assigned("short");
  assigned = std::move(moved);
  EXPECT_EQ(assigned.view(), std::string(20, 'h'));
}

TEST(lru_order, the_back_is_the_least_recently_pushed_or_moved) {
  lru_order order;
  EXPECT_EQ(order.back(), lru_order::none);
  const auto a = order.push_front(1);
  const auto b = order.push_front(2);
  const auto c = order.push_front(3);
  EXPECT_EQ(order.back(), a);
  order.move_to_front(a);
  EXPECT_EQ(order.back(), b);
  order.erase(b);
  EXPECT_EQ(order.back(), c);
  EXPECT_EQ(order.hash_of(c), 3u);
  order.erase(c);
  EXPECT_EQ(order.back(), a);
  order.erase(a);
  EXPECT_EQ(order.back(), lru_order::none);
}

TEST(lru_order, erased_nodes_are_reused_before_the_vector_grows) {
  lru_order order;
  const auto a = order.push_front(1);
  order.push_front(2);
  order.erase(a);
  EXPECT_EQ(order.push_front(3), a);
  EXPECT_EQ(order.hash_of(a), 3u);
}

TEST(lru_order, pushed_within_counts_pushes_and_moves_since_a_nodes_last) {
  lru_order order;
  const auto a = order.push_front(1);
  EXPECT_TRUE(order.pushed_within(a, 0));
  order.push_front(2);
  order.push_front(3);
  EXPECT_FALSE(order.pushed_within(a, 1));
  EXPECT_TRUE(order.pushed_within(a, 2));
  order.move_to_front(a);
  EXPECT_TRUE(order.pushed_within(a, 0));
}

// Flights whose keys share one hash (as colliding keys would), so that only the keys' bytes tell
// them apart, in the table's own slots and in its map beyond them.
std::deque<flight_header> colliding_flights(int n) {
  std::deque<flight_header> flights;
  for (int i = 0; i < n; ++i) flights.emplace_back("key-" + std::to_string(i), 42);
  return flights;
}

TEST(flight_table, finds_every_flight_beyond_its_own_slots_by_the_keys_bytes) {
  std::deque<flight_header> flights = colliding_flights(10);
  flight_table table;
  for (flight_header& f : flights) table.add(f);
  for (flight_header& f : flights) EXPECT_EQ(table.find(f.hashed()), &f) << f.key;
  EXPECT_EQ(table.find(hashed_key{"key-10", 42}), nullptr);
  EXPECT_EQ(table.find(hashed_key{"key-1", 43}), nullptr);
  std::set<const flight_header*> visited;
  table.for_each([&](flight_header& f) { EXPECT_TRUE(visited.insert(&f).second) << f.key; });
  EXPECT_EQ(visited.size(), flights.size());
}

TEST(flight_table, remove_tells_whether_the_flight_was_still_its_keys) {
  std::deque<flight_header> flights = colliding_flights(8);
  flight_table table;
  for (flight_header& f : flights) table.add(f);
  for (int i : {1, 6}) {  // one in the table's own slots, one in its map
    flight_header& replaced = flights[static_cast<std::size_t>(i)];
    flight_header& newer = flights.emplace_back(replaced.key, replaced.hash);
    EXPECT_TRUE(table.remove(replaced)) << i;
    table.add(newer);
    EXPECT_EQ(table.find(replaced.hashed()), &newer) << i;
    EXPECT_FALSE(table.remove(replaced)) << i;  // replaced: its result is not stored
    EXPECT_EQ(table.find(replaced.hashed()), &newer) << i;
    EXPECT_TRUE(table.remove(newer)) << i;
    EXPECT_EQ(table.find(replaced.hashed()), nullptr) << i;
  }
  // A slot freed is taken again, and the others are still found.
  flight_header later("later", 42);
  table.add(later);
  for (std::size_t i = 0; i < 8; ++i) {
    if (i != 1 && i != 6) {
      EXPECT_EQ(table.find(flights[i].hashed()), &flights[i]) << i;
    }
  }
  EXPECT_EQ(table.find(later.hashed()), &later);
  int left = 0;
  table.for_each([&](flight_header&) { ++left; });
  EXPECT_EQ(left, 7);
}

}  // namespace
