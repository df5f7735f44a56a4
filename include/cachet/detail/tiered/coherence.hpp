#ifndef CACHET_DETAIL_TIERED_COHERENCE_HPP
#define CACHET_DETAIL_TIERED_COHERENCE_HPP

// How a tiered backend's memory tier learns what other processes changed in Redis: a connection
// of its own with RESP3 client tracking in broadcast mode (`CLIENT TRACKING ON BCAST PREFIX ...`),
// on which the server pushes the name of every key under cachet's prefixes that any client
// changes. Broadcast rather than default mode: the server keeps no table of the keys each client
// read, so there is no table to overflow and no dependence on which connection read a key; the
// cost is a push for every write under the prefix, including writes this process made.

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
  void confirmed() {
    {
      std::lock_guard lock(m_);
      serving_.store(true, std::memory_order_release);
    }
    serving_changed_.notify_all();
  }

  // The connection dropped: invalidations sent meanwhile are lost, so nothing in memory can be
  // trusted. Serving stops first, so that no call reads what is about to be dropped.
  void lost() {
    serving_.store(false, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_acq_rel);
    std::lock_guard lock(m_);
    for (near_tier* t : tiers_) t->drop_all();
    flushes_.fetch_add(1, std::memory_order_acq_rel);
  }

  // A push from the server. `invalidate` with a null list is a flush (FLUSHALL, FLUSHDB, or in
  // default tracking mode an overflowing tracking table): everything goes.
  void apply(resp3::value&& push) {
    auto& e = push.elements;
    if (e.size() < 2 || !e[0].is_string() || e[0].text != "invalidate") return;
    {
      std::lock_guard lock(m_);
      if (e[1].is_null()) {
        for (near_tier* t : tiers_) t->drop_all();
        flushes_.fetch_add(1, std::memory_order_acq_rel);
      } else {
        for (const resp3::value& key : e[1].elements) drop_key(key.text);
      }
    }
    received_.fetch_add(1, std::memory_order_acq_rel);
  }

  template <class Rep, class Period>
  bool wait_serving(std::chrono::duration<Rep, Period> limit) {
    std::unique_lock lock(m_);
    return serving_changed_.wait_for(lock, limit, [&] { return serving(); });
  }

 private:
  // Under m_.
  void drop_key(std::string_view key) {
    if (key.starts_with(key_base_)) {
      key.remove_prefix(key_base_.size());
      for (near_tier* t : tiers_) t->drop_entry(key);
      return;
    }
    if (!key.starts_with(counter_base_)) return;
    key.remove_prefix(counter_base_.size());
    if (key.starts_with("tag:")) {
      near_->invalidate_tag(key.substr(4));
    } else if (key.starts_with("fn:")) {
      for (near_tier* t : tiers_) t->drop_function(key.substr(3));
    }
  }

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
  invalidation_channel(resp3::config cfg, std::shared_ptr<tier_coherence> state)
      : work_(boost::asio::make_work_guard(io_)),
        conn_(std::make_shared<resp3::detail::connection>(io_.get_executor(), std::move(cfg))) {
    auto* conn = conn_.get();  // the hooks live inside the connection: no ownership cycle
    conn_->on_push = [state](resp3::value&& push) { state->apply(std::move(push)); };
    conn_->on_disconnected = [state] { state->lost(); };
    conn_->on_connected = [conn, state] {
      auto p = std::make_shared<resp3::detail::pending_request>(conn->strand());
      p->commands.push("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", state->key_base(), "PREFIX",
                       state->counter_base());
      p->expected = 1;
      p->internal = true;  // failed with the connection that sent it
      conn->enqueue_front(p);
      boost::asio::co_spawn(conn->strand(), confirm(std::move(p), state), boost::asio::detached);
    };
    thread_ = std::thread([this] { io_.run(); });
    boost::asio::post(conn_->strand(), [c = conn_] { c->start(); });
  }

  // Returns once every push the server sent before this call has been applied: the PING's reply
  // follows them on the connection. \throws request_error when the channel is down, or not
  // within `timeout`. Not on the channel's thread.
  void sync(std::chrono::milliseconds timeout) {
    auto ping = [](std::shared_ptr<resp3::detail::connection> c,
                   std::chrono::milliseconds t) -> resp3::detail::strand_awaitable<void> {
      auto p = std::make_shared<resp3::detail::pending_request>(c->strand());
      p->commands.push("PING");
      p->expected = 1;
      co_await resp3::detail::connection::submit(c, p, t);
    };
    boost::asio::co_spawn(conn_->strand(), ping(conn_, timeout), boost::asio::use_future).get();
  }

  invalidation_channel(const invalidation_channel&) = delete;
  invalidation_channel& operator=(const invalidation_channel&) = delete;

  ~invalidation_channel() {
    boost::asio::dispatch(conn_->strand(), [c = conn_] { c->stop(); });
    work_.reset();
    thread_.join();
  }

 private:
  static resp3::detail::strand_awaitable<void> confirm(
      std::shared_ptr<resp3::detail::pending_request> p, std::shared_ptr<tier_coherence> state) {
    while (!p->done) {
      p->wake.expires_at(resp3::detail::clock::time_point::max());
      boost::system::error_code ignored;
      co_await p->wake.async_wait(boost::asio::redirect_error(resp3::detail::on_strand, ignored));
    }
    if (!p->ec && !p->replies.empty() && !p->replies.front().is_error()) state->confirmed();
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::shared_ptr<resp3::detail::connection> conn_;
  std::thread thread_;
};

}  // namespace cachet::detail

#endif
