#ifndef CACHET_DETAIL_REDIS_BACKEND_RUNTIME_HPP
#define CACHET_DETAIL_REDIS_BACKEND_RUNTIME_HPP

#include <cachet/detail/linkage.hpp>
#include <cachet/detail/redis/backend_breaker.hpp>
#include <cachet/detail/redis/backend_link.hpp>
#include <cachet/detail/redis/invalidation_backlog.hpp>
#include <cachet/detail/redis/key_layout.hpp>
#include <cachet/error.hpp>
#include <cachet/redis/client.hpp>
#include <cachet/redis/config.hpp>
#include <cachet/redis/error.hpp>
#include <cachet/redis/request.hpp>
#include <cachet/redis/resp3.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace cachet::detail {

// What a Redis backend runs on: an io_context on a thread of its own, and its link to Redis on
// it (one pipelined connection, or one per cluster master), guarded by one circuit breaker.
// Coroutines' operations run on that thread. The key layout says where entries and counters
// live (key_layout.hpp): a counter is bumped in every bucket.
//
// A blocking call on one server does not hand its work to that thread: waking it, and being
// woken by it, costs two thread wake-ups per call, more than the round trip to Redis. The caller
// takes a lane instead (a connection on an io_context of its own, idle between calls) and drives
// it on its own thread until its operation is done, as a hand-written memo on a blocking
// connection would. Threads calling at the same time take different lanes, so they scale like
// as many connections; past max_lanes callers, and on a cluster (whose link is a connection per
// master), the I/O thread serves them as before. A lane made before the I/O thread's connection
// was last re-established is replaced when it is next taken: no lane keeps talking to a server
// the backend has left (a master demoted behind Sentinel, which still answers reads).
//
// Coroutines of the application's own io_context, when the backend was given it
// (redis_options::async_context), do not hop to the I/O thread either: a second link lives on
// that io_context, and their operations run on their own thread and talk to Redis through it,
// one pipelined connection serving every coroutine there. What must stay on the I/O thread (the
// backlog of invalidations and its replay, invalidations themselves) still goes there.
//
// Invalidations that fail are kept in a backlog (invalidation_backlog.hpp) until Redis confirms
// them. While it is not empty, no operation of a cached call uses Redis before the backlog is
// replayed (confirm_invalidations()): an entry a pending invalidation should have removed may
// still be there. The backlog and the replay live on the I/O thread, so they need no lock (an
// operation on a lane reaches them there); other threads see only its size, mirrored in an
// atomic.
class redis_runtime {
 public:
  CACHET_DECL redis_runtime(resp3::config cfg, key_layout layout,
                            redis_backend_breaker::settings breaker = {},
                            std::size_t max_pending_deletes = 10'000,
                            boost::asio::io_context* app_context = nullptr);

  redis_runtime(const redis_runtime&) = delete;
  redis_runtime& operator=(const redis_runtime&) = delete;

  // The link finishes its background work once closed, so the thread's run() returns.
  CACHET_DECL ~redis_runtime();

  /// Why Redis last failed, in words: the I/O thread's connection's reason, else that of the
  /// lane a blocking call returned last (a call on a lane may fail its handshake before the I/O
  /// thread's connection has tried); empty while they work.
  CACHET_DECL std::string last_error() const;

  /// The link of the lane this thread drives for this runtime, else the application's on a
  /// thread running the application's io_context, else the I/O thread's.
  CACHET_DECL backend_link& link() noexcept;

  /// Whether this thread runs the application's io_context (redis_options::async_context), so
  /// that a coroutine's operation here goes to Redis without leaving it.
  bool serves_this_thread() const noexcept {
    return app_link_.has_value() && app_context_->get_executor().running_in_this_thread();
  }
  boost::asio::io_context& context() noexcept { return io_; }

  /// The one-server client. \throws cachet::error on a cluster, which has one per master.
  CACHET_DECL resp3::client& client();

  /// Where entries and counters live: one bucket on one server, K on a cluster.
  const key_layout& layout() const noexcept { return layout_; }

  /// "<prefix>:v<schema>#", which the keys of rate limits start with (on a cluster too, where
  /// counters are in buckets): no entry key can, since they all have ':' after the schema.
  const std::string& counter_base() const noexcept { return layout_.shared_counter_base(); }

  /// A token no call of any process has made or will make: this backend's 128 random bits, then
  /// a count, in hex. What counters and write permits hold (see store_entry.hpp). Any thread.
  CACHET_DECL std::string fresh_token();

  /// Who holds a cachet::lease this backend takes: its 128 random bits, the same for every call
  /// (see store_entry.hpp), so that any caller in this process may compute under it.
  const std::string& lease_holder() const noexcept { return token_origin_; }

  /// Decides which operations of cached calls may use Redis.
  redis_backend_breaker& breaker() noexcept { return breaker_; }

  /// Counts this process's tag invalidations. A computation with no stamp (Redis
  /// was not read) is joined only by callers that saw the same count, so a caller never gets a
  /// result computed before an invalidate_tag it made.
  std::uint64_t tag_epoch() const noexcept { return tag_epoch_.load(std::memory_order_acquire); }
  void bump_tag_epoch() noexcept { tag_epoch_.fetch_add(1, std::memory_order_acq_rel); }

  bool on_io_thread() const noexcept { return work_.get_executor().running_in_this_thread(); }

  /// Throws request_error(blocking_call_on_io_thread) on the I/O thread, where a blocking call
  /// would wait for the thread it blocks.
  CACHET_DECL void require_off_io_thread(std::string_view what) const;

  /// DEL of an entry, `function_key` naming the generation of its function (what covers it when
  /// too many DELs are pending).
  CACHET_DECL boost::asio::awaitable<void> delete_entry(std::string key, std::string function_key);

  /// SET of a counter (`tag:<tag>`, `fn:<function>`) to a fresh token, in every bucket (on a
  /// cluster, one pipeline per node, the nodes in parallel).
  CACHET_DECL boost::asio::awaitable<void> bump_generation(std::string counter);

  /// Invalidations that failed and wait to be replayed; any thread.
  std::size_t pending_invalidations() const noexcept {
    return pending_.load(std::memory_order_acquire);
  }

  /// Replays the pending invalidations (one pipelined request), or waits for the replay under
  /// way. Returns null once none is pending, else why they could not all be confirmed: then the
  /// caller's operation must not use Redis. Awaited on a lane, it runs on the I/O thread.
  CACHET_DECL boost::asio::awaitable<std::exception_ptr> confirm_invalidations();

  /// confirm_invalidations() outside of any cached call, whatever the breaker says (like an
  /// invalidation); throws why they could not be confirmed.
  CACHET_DECL boost::asio::awaitable<void> replay_invalidations();

  /// Runs `op` and waits for its result (or exception): on a lane this thread drives, else on
  /// the I/O thread.
  template <class T>
  T run(boost::asio::awaitable<T> op) {
    require_off_io_thread("a blocking cache operation");
    if (lane_lease lease = take_lane(); lease.taken != nullptr) {
      return drive(*lease.taken, std::move(op));
    }
    // The completion handler stores the result here before it fulfils the wait's promise, and
    // this thread reads it only once the future is ready.
    std::optional<std::conditional_t<std::is_void_v<T>, char, T>> value;
    io_wait wait = make_io_wait();
    if constexpr (std::is_void_v<T>) {
      boost::asio::co_spawn(
          io_, std::move(op),
          [done = std::move(wait.promise)](std::exception_ptr e) { fulfil(*done, e); });
    } else {
      boost::asio::co_spawn(io_, std::move(op),
                            [done = std::move(wait.promise), &value](std::exception_ptr e, T v) {
                              if (!e) value.emplace(std::move(v));
                              fulfil(*done, e);
                            });
    }
    wait_for(*wait.future);
    if constexpr (!std::is_void_v<T>) return std::move(*value);
  }

  /// Lanes made at most; callers beyond them are served by the I/O thread.
  static constexpr std::size_t max_lanes = 16;

 private:
  // A connection a blocking caller drives on its own thread. Its io_context runs only while a
  // caller drives it; between calls the connection waits, nothing watching its socket. On plain
  // TCP the caller writes its request and waits for the reply on the socket itself
  // (resp3::client::caller_reads), looking first whether the server closed the connection
  // meanwhile; what else came due (a health check, a reconnection) runs in the drive.
  struct lane {
    CACHET_DECL lane(redis_runtime* o, const resp3::config& cfg, std::uint64_t handshakes_before);
    lane(const lane&) = delete;
    lane& operator=(const lane&) = delete;
    // Lets the closed client's background coroutine finish, so nothing outlives the io_context.
    CACHET_DECL ~lane();
    redis_runtime* owner;
    std::uint64_t made_after;  // handshakes_ when it was made
    boost::asio::io_context io{1};
    resp3::client client;
    backend_link link;  // the store's requests, on `client`
  };

  // A lane taken by one caller, returned on destruction.
  struct lane_lease {
    lane_lease(redis_runtime* o, std::unique_ptr<lane> l) : owner(o), taken(std::move(l)) {}
    lane_lease(const lane_lease&) = delete;
    lane_lease& operator=(const lane_lease&) = delete;
    ~lane_lease() {
      if (taken != nullptr) owner->return_lane(std::move(taken));
    }
    redis_runtime* owner;
    std::unique_ptr<lane> taken;
  };

  // The lane this thread drives, for link(); restored when the drive ends (a callback of a
  // driven operation may make a blocking call of its own, on another lane).
  struct lane_binding {
    explicit lane_binding(lane* l) : previous(driven_lane_) { driven_lane_ = l; }
    lane_binding(const lane_binding&) = delete;
    lane_binding& operator=(const lane_binding&) = delete;
    ~lane_binding() { driven_lane_ = previous; }
    lane* previous;
  };

  CACHET_DECL lane_lease take_lane();

  CACHET_DECL void return_lane(std::unique_ptr<lane> l);

  template <class T>
  T drive(lane& l, boost::asio::awaitable<T> op) {
    lane_binding binding(&l);
    // Other threads may hold work of this io_context between drives: an operation that hopped to
    // the I/O thread lets go of its caller's executor there, after the caller has resumed. Were
    // that the lane's last work (its client not started), its release would stop the io_context,
    // and a stopped io_context never runs this drive's operation. Held from before the restart,
    // this guard keeps the count above zero for the whole drive.
    const auto held = boost::asio::make_work_guard(l.io);
    std::exception_ptr failure;
    std::optional<std::conditional_t<std::is_void_v<T>, char, T>> value;
    bool finished = false;
    // One run() for the whole drive, ended by the completion, rather than run_one() per
    // handler: Asio recycles coroutine frames and handler memory per run, so the drive's
    // operations reuse each other's blocks instead of allocating their own.
    if constexpr (std::is_void_v<T>) {
      boost::asio::co_spawn(l.io, std::move(op), [&](std::exception_ptr e) {
        failure = e;
        finished = true;
        l.io.stop();
      });
    } else {
      boost::asio::co_spawn(l.io, std::move(op), [&](std::exception_ptr e, T v) {
        failure = e;
        if (!e) value.emplace(std::move(v));
        finished = true;
        l.io.stop();
      });
    }
    while (!finished) {
      l.io.restart();
      l.io.run();
    }
    if (failure) std::rethrow_exception(failure);
    if constexpr (!std::is_void_v<T>) return std::move(*value);
  }

  template <class T>
  boost::asio::awaitable<T> on_io(boost::asio::awaitable<T> op) {
    return boost::asio::co_spawn(io_, std::move(op), boost::asio::use_awaitable);
  }

  CACHET_DECL static std::string random_origin();

  // What run() waits with on the I/O thread: a std::promise<void>, held by the operation's
  // completion handler (destroyed unfulfilled, it breaks the promise), and its std::future, held
  // by the caller. They are defined in impl/backend_runtime.ipp, so that a unit compiled under
  // CACHET_SEPARATE_COMPILATION does not parse <future>.
  struct io_promise;
  struct io_future;
  struct io_wait {
    std::shared_ptr<io_promise> promise;
    std::shared_ptr<io_future> future;
  };
  CACHET_DECL static io_wait make_io_wait();
  // Sets the promise's exception, or its value when `e` is null.
  CACHET_DECL static void fulfil(io_promise& p, std::exception_ptr e);
  // Waits for the future; rethrows what the promise holds (std::future_error when broken).
  CACHET_DECL static void wait_for(io_future& f);

  // One replay request; operations that need Redis meanwhile wait for its outcome.
  struct replay_round {
    CACHET_DECL explicit replay_round(boost::asio::io_context::executor_type ex);
    boost::asio::steady_timer done;  // cancelled when it ends
    bool finished = false;
    std::exception_ptr failure;
  };

  // Invalidations are sent whatever the breaker says, since a lost one must surface; their
  // outcome still feeds the breaker. On failure one is thrown, and kept for a replay: it may not
  // have been applied. Success also settles the same command if it was pending.
  CACHET_DECL boost::asio::awaitable<void> invalidation(bool is_delete, std::string key,
                                                        std::string function_key);

  // The copies of one counter, all or none: when any fails, every copy is kept for the replay
  // (one reached twice only costs misses), so a bump that reached some buckets stays pending.
  CACHET_DECL boost::asio::awaitable<void> bump_counters(std::vector<std::string> keys);

  // An invalidation refused by the server (OOM under maxmemory, say) is not applied.
  CACHET_DECL static void throw_error_reply(const std::vector<resp3::value>& replies);

  // Sends every pending invalidation in one pipeline; those answered without an error are
  // confirmed. Returns the transport failure, or the first error reply (the command was refused,
  // so it stays pending).
  CACHET_DECL boost::asio::awaitable<std::exception_ptr> replay();

  // First, so that it outlives the coroutines the io_context destroys: their tickets report to it.
  redis_backend_breaker breaker_;
  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  backend_link link_;
  key_layout layout_;
  std::string token_origin_;
  std::atomic<std::uint64_t> tokens_made_{0};
  std::atomic<std::uint64_t> tag_epoch_{0};
  invalidation_backlog backlog_;             // I/O thread only
  std::shared_ptr<replay_round> replaying_;  // I/O thread only
  std::atomic<std::size_t> pending_{0};      // backlog_.size(), for every thread
  std::thread thread_;
  mutable std::mutex lanes_mutex_;
  std::vector<std::unique_ptr<lane>> idle_lanes_;  // by lanes_mutex_
  std::string lane_error_;      // by lanes_mutex_: last_error() of the lane returned last
  std::size_t lanes_made_ = 0;  // by lanes_mutex_
  std::atomic<std::uint64_t> handshakes_{0};  // of the link's client, on the I/O thread
  boost::asio::io_context* app_context_;      // redis_options::async_context, or null
  std::optional<backend_link> app_link_;      // on *app_context_
  static inline thread_local lane* driven_lane_ = nullptr;
};

}  // namespace cachet::detail

#if CACHET_INCLUDE_BODIES
#include <cachet/detail/redis/impl/backend_runtime.ipp>
#endif

#endif
