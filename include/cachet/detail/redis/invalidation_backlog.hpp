#ifndef CACHET_DETAIL_REDIS_INVALIDATION_BACKLOG_HPP
#define CACHET_DETAIL_REDIS_INVALIDATION_BACKLOG_HPP

// The invalidations of a Redis backend that failed, kept until Redis confirms them. A failed
// DEL or counter bump (SET of a fresh token) may or may not have been applied; sending it again
// is always safe: DEL is idempotent, and a counter only has to move on (a replay sends another
// fresh token; an extra bump costs misses, never a wrong answer). So the backlog only has to
// remember *which* commands to send again, not how often.
//
// Memory is bounded: identical commands are one entry, a function's generation bump covers
// every entry of that function (so its DELs are dropped), and past `max_deletes` DELs a new one
// is remembered as a bump of its function's generation instead. Generation bumps (tags,
// functions) are one entry per distinct counter key: per tag or function, and on a Redis Cluster
// per bucket too (each bucket has its own copy, see key_layout.hpp).
//
// Every record carries a sequence number, so that a replay confirms only what it sent: a
// command recorded again while the replay was under way stays for the next one.
//
// Not thread-safe: the backend touches it on its I/O thread only.

#include <cachet/detail/hash.hpp>
#include <cachet/detail/linkage.hpp>

#include <boost/unordered/unordered_flat_map.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cachet::detail {

class invalidation_backlog {
 public:
  // One command of a replay, and the record it confirms.
  struct command {
    bool is_delete;  // DEL key; else SET key <fresh token>
    std::string key;
    std::uint64_t sequence;
  };

  explicit invalidation_backlog(std::size_t max_deletes) : max_deletes_(max_deletes) {}

  // The sequence number the next record will get: taken when a command is sent, it tells
  // records made before it (smaller) from those made after.
  std::uint64_t sequence() const noexcept { return next_; }

  std::size_t size() const noexcept { return deletes_.size() + bumps_.size(); }

  // A DEL of `key`, an entry of the function whose generation is `function_key`.
  CACHET_DECL void add_delete(std::string key, const std::string& function_key);

  // A bump of a counter: a tag's or a function's. A function's also makes its DELs moot.
  CACHET_DECL void add_bump(const std::string& key);

  // A command sent when sequence() was `sent_at` was applied: what it repeats, recorded
  // before it was sent, is done.
  CACHET_DECL void applied(bool is_delete, std::string_view key, std::uint64_t sent_at);

  // What a replay sends: every pending command once.
  CACHET_DECL std::vector<command> commands() const;

  // `c`, from commands(), was applied: its record goes, unless it was recorded again since.
  CACHET_DECL void confirmed(const command& c);

 private:
  struct delete_record {
    std::string function_key;
    std::uint64_t sequence;
  };

  std::size_t max_deletes_;
  std::uint64_t next_ = 1;
  boost::unordered_flat_map<std::string, delete_record, string_hash, std::equal_to<>> deletes_;
  boost::unordered_flat_map<std::string, std::uint64_t, string_hash, std::equal_to<>> bumps_;
};

}  // namespace cachet::detail

#if CACHET_INCLUDE_BODIES
#include <cachet/detail/redis/impl/invalidation_backlog.ipp>
#endif

#endif
