// The backlog of failed invalidations of a Redis backend, on its own (no server): what a replay
// sends, and what it confirms when invalidations fail again while it is under way.

#include <cachet/detail/redis/invalidation_backlog.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace {

using cachet::detail::invalidation_backlog;

// The commands of a replay as "DEL key" / "SET key", sorted.
std::vector<std::string> sent(const invalidation_backlog& b) {
  std::vector<std::string> out;
  for (const auto& c : b.commands()) out.push_back((c.is_delete ? "DEL " : "SET ") + c.key);
  std::sort(out.begin(), out.end());
  return out;
}

TEST(InvalidationBacklog, KeepsEachCommandOnce) {
  invalidation_backlog b(10);
  b.add_bump("tag:a");
  b.add_bump("tag:a");
  b.add_delete("k1", "fn:f");
  b.add_delete("k1", "fn:f");
  EXPECT_EQ(b.size(), 2u);
  EXPECT_EQ(sent(b), (std::vector<std::string>{"DEL k1", "SET tag:a"}));
}

TEST(InvalidationBacklog, AFunctionsBumpCoversItsDeletesAndPastTheBoundReplacesThem) {
  invalidation_backlog b(2);
  b.add_delete("k1", "fn:f");
  b.add_delete("g1", "fn:g");
  b.add_delete("k2", "fn:f");  // one too many: f's generation moves on instead
  EXPECT_EQ(sent(b), (std::vector<std::string>{"DEL g1", "SET fn:f"}));
  b.add_delete("k3", "fn:f");  // covered
  EXPECT_EQ(b.size(), 2u);
  b.add_bump("fn:g");  // a failed clear() of g covers its deletes too
  EXPECT_EQ(sent(b), (std::vector<std::string>{"SET fn:f", "SET fn:g"}));
}

TEST(InvalidationBacklog, AReplayConfirmsOnlyWhatWasNotRecordedAgainMeanwhile) {
  invalidation_backlog b(10);
  b.add_bump("tag:a");
  b.add_delete("k1", "fn:f");
  b.add_bump("fn:g");
  const std::vector<invalidation_backlog::command> replay = b.commands();
  // While the replay is under way, the same tag and a delete covered by g fail again.
  b.add_bump("tag:a");
  b.add_delete("g1", "fn:g");
  for (const auto& c : replay) b.confirmed(c);
  EXPECT_EQ(sent(b), (std::vector<std::string>{"SET fn:g", "SET tag:a"}));
  for (const auto& c : b.commands()) b.confirmed(c);
  EXPECT_EQ(b.size(), 0u);
}

TEST(InvalidationBacklog, ACommandAppliedLaterSettlesWhatItRepeats) {
  invalidation_backlog b(10);
  b.add_bump("tag:a");
  const auto sent_at = b.sequence();
  b.add_delete("k1", "fn:f");          // failed after the bump below was sent
  b.applied(false, "tag:a", sent_at);  // an invalidate_tag that went through
  b.applied(true, "k1", sent_at);      // sent before k1's failure was recorded: not settled
  EXPECT_EQ(sent(b), (std::vector<std::string>{"DEL k1"}));
  b.applied(true, "k1", b.sequence());
  EXPECT_EQ(b.size(), 0u);
}

}  // namespace
