#ifndef CACHET_DETAIL_TIERED_COHERENCE_HPP
#define CACHET_DETAIL_TIERED_COHERENCE_HPP

// How a tiered backend's memory tier learns what other processes changed in Redis: a connection
// of its own with RESP3 client tracking in broadcast mode (`CLIENT TRACKING ON BCAST PREFIX ...`),
// on which the server pushes the name of every key under cachet's prefixes that any client
// changes. Broadcast rather than default mode: the server keeps no table of the keys each client
// read, so there is no table to overflow and no dependence on which connection read a key; the
// cost is a push for every write under the prefix, including writes this process made.

#include <cachet/detail/linkage.hpp>
#include <cachet/detail/redis/connection.hpp>
#include <cachet/memory.hpp>
#include <cachet/redis/config.hpp>
#include <cachet/redis/resp3.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_future.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace cachet::detail {

// The memory tier of one tiered store, as invalidations reach it.
class near_tier {
 public:
  // `rest`: an entry's Redis key past "<prefix>:v<schema>:".
  virtual void drop_entry(std::string_view rest) = 0;
  // `function`: what follows "#fn:" in the function's counter (clear()).
  virtual void drop_function(std::string_view function) = 0;
  virtual void drop_all() = 0;

 protected:
  ~near_tier() = default;
};

// What the invalidation channel knows, shared by the tiered backend and its stores. The memory
// tier may answer calls only while `serving()`: tracking is confirmed on a live connection.
// `generation()` moves on each time the channel is lost, so that a fill whose Redis read may
// have missed an invalidation is refused (see tiered_store::get_or_load).
class tier_coherence {
 public:
  tier_coherence(memory& near, std::string key_base, std::string counter_base)
      : near_(&near), key_base_(std::move(key_base)), counter_base_(std::move(counter_base)) {}

  bool serving() const noexcept { return serving_.load(std::memory_order_acquire); }
  std::uint64_t generation() const noexcept { return generation_.load(std::memory_order_acquire); }
  std::uint64_t invalidations_received() const noexcept {
    return received_.load(std::memory_order_acquire);
  }
  std::uint64_t flushes() const noexcept { return flushes_.load(std::memory_order_acquire); }

  const std::string& key_base() const noexcept { return key_base_; }
  const std::string& counter_base() const noexcept { return counter_base_; }

  void enter(near_tier* t) {
    std::lock_guard lock(m_);
    tiers_.push_back(t);
  }
  void leave(near_tier* t) {
    std::lock_guard lock(m_);
    std::erase(tiers_, t);
  }

  // Tracking confirmed on a fresh connection: the memory tier, emptied when the last one was
  // lost, may serve again.
  CACHET_DECL void confirmed();

  // The connection dropped: invalidations sent meanwhile are lost, so nothing in memory can be
  // trusted. Serving stops first, so that no call reads what is about to be dropped.
  CACHET_DECL void lost();

  // A push from the server. `invalidate` with a null list is a flush (FLUSHALL, FLUSHDB, or in
  // default tracking mode an overflowing tracking table): everything goes.
  CACHET_DECL void apply(resp3::value&& push);

  template <class Rep, class Period>
  bool wait_serving(std::chrono::duration<Rep, Period> limit) {
    std::unique_lock lock(m_);
    return serving_changed_.wait_for(lock, limit, [&] { return serving(); });
  }

 private:
  // Under m_.
  CACHET_DECL void drop_key(std::string_view key);

  memory* near_;
  std::string key_base_;
  std::string counter_base_;
  std::mutex m_;
  std::condition_variable serving_changed_;
  std::vector<near_tier*> tiers_;
  std::atomic<bool> serving_{false};
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<std::uint64_t> received_{0};
  std::atomic<std::uint64_t> flushes_{0};
};

// The tracking connection and the thread that serves it: a thread of its own, so that
// invalidations are applied even while the Redis backend's I/O thread is busy (or blocked in a
// codec). Reconnects as the backend's client does; after each handshake tracking is switched on
// again before the memory tier serves.
class invalidation_channel {
 public:
  CACHET_DECL invalidation_channel(resp3::config cfg, std::shared_ptr<tier_coherence> state);

  // Returns once every push the server sent before this call has been applied: the PING's reply
  // follows them on the connection. \throws request_error when the channel is down, or not
  // within `timeout`. Not on the channel's thread.
  CACHET_DECL void sync(std::chrono::milliseconds timeout);

  invalidation_channel(const invalidation_channel&) = delete;
  invalidation_channel& operator=(const invalidation_channel&) = delete;

  CACHET_DECL ~invalidation_channel();

 private:
  CACHET_DECL static resp3::detail::strand_awaitable<void> confirm(
      std::shared_ptr<resp3::detail::pending_request> p, std::shared_ptr<tier_coherence> state);

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::shared_ptr<resp3::detail::connection> conn_;
  std::thread thread_;
};

}  // namespace cachet::detail

#if CACHET_INCLUDE_BODIES
#include <cachet/detail/tiered/impl/coherence.ipp>
#endif

#endif
