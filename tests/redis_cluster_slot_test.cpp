#include <cachet/redis/cluster_slot.hpp>

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace {

using cachet::resp3::cluster_hashed_part;
using cachet::resp3::cluster_slot;
using cachet::resp3::crc16_xmodem;

static_assert(crc16_xmodem("123456789") == 0x31C3, "the XMODEM check value");

TEST(ClusterSlot, Crc16MatchesTheXmodemCheckValues) {
  EXPECT_EQ(crc16_xmodem("123456789"), 0x31C3);
  EXPECT_EQ(crc16_xmodem(""), 0x0000);
  EXPECT_EQ(crc16_xmodem("A"), 0x58E5);
}

// Slots as `CLUSTER KEYSLOT` reports them on Redis 7.
TEST(ClusterSlot, SlotsMatchWhatRedisReports) {
  EXPECT_EQ(cluster_slot("foo"), 12182);
  EXPECT_EQ(cluster_slot("bar"), 5061);
  EXPECT_EQ(cluster_slot("hello"), 866);
  EXPECT_EQ(cluster_slot(""), 0);
}

TEST(ClusterSlot, HashTagsPutKeysInOneSlot) {
  EXPECT_EQ(cluster_slot("{user1000}.following"), cluster_slot("{user1000}.followers"));
  EXPECT_EQ(cluster_slot("{user1000}.following"), cluster_slot("user1000"));
  EXPECT_EQ(cluster_hashed_part("foo{bar}{zap}"), "bar");
  EXPECT_EQ(cluster_hashed_part("foo{}{bar}"), "foo{}{bar}");  // an empty tag hashes the key
  EXPECT_EQ(cluster_hashed_part("foo{{bar}}zap"), "{bar");
  EXPECT_EQ(cluster_hashed_part("foo{bar"), "foo{bar");
}

TEST(ClusterSlot, SlotsStayInRangeAndSpread) {
  std::set<std::uint16_t> slots;
  for (int i = 0; i < 1000; ++i) {
    auto slot = cluster_slot("key:" + std::to_string(i));
    EXPECT_LT(slot, cachet::resp3::cluster_slot_count);
    slots.insert(slot);
  }
  EXPECT_GT(slots.size(), 950U);  // 1000 keys over 16384 slots rarely collide
}

}  // namespace
