#ifndef CACHET_REDIS_CLIENT_HPP
#define CACHET_REDIS_CLIENT_HPP

#include <cachet/detail/linkage.hpp>
#include <cachet/detail/redis/connection.hpp>
#include <cachet/redis/config.hpp>
#include <cachet/redis/error.hpp>
#include <cachet/redis/request.hpp>
#include <cachet/redis/resp3.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace cachet::resp3 {

/// Per-call options of client::exec.
///   co_await c.exec(request_options{.timeout = 50ms, .idempotent = true}, "GET", "k");
struct request_options {
  /// Overrides config::request_timeout for this call; zero means no deadline.
  std::optional<std::chrono::milliseconds> timeout = std::nullopt;
  /// The command may safely run twice: if the connection drops after it was written and before
  /// its reply arrived, it is re-sent on the next connection instead of failing with
  /// error::outcome_unknown. Only set it for reads and for writes whose repetition is harmless.
  bool idempotent = false;
};

/// A Redis client: one connection (RESP3), shared by any number of coroutines.
///
///   boost::asio::io_context io;
///   auto c = cachet::redis::client(io.get_executor(), cachet::redis::config::from_env());
///   boost::asio::co_spawn(io, [&]() -> boost::asio::awaitable<void> {
///     co_await c.exec("SET", "k", "v", "PX", 5000);
///     auto v = co_await c.exec("GET", "k");  // v.as_string() == "v"
///   }, boost::asio::detached);
///   io.run();
///
/// Requests from concurrent coroutines are queued and written together (automatic pipelining);
/// replies are matched in order. The connection is opened on first use (or start()), kept alive
/// with a health check, and re-established with capped, jittered exponential backoff. A request
/// written but unanswered when the connection drops fails with error::outcome_unknown and is
/// never silently re-sent, unless it is marked request_options::idempotent. A request not yet
/// written waits for the next connection attempt, at most until its deadline: while the client
/// waits out a backoff, a new request starts that attempt at once (requests made meanwhile share
/// it). When the attempt fails (connection refused, a connect or handshake timeout) the waiting
/// requests fail with error::not_connected and the reason, so a server that refuses connections
/// costs a request one refused attempt, not its deadline. While the server refuses the handshake
/// (a wrong password, an unknown user, a database out of range), requests fail at once with
/// error::handshake_failed and the server's text, and last_error() keeps that text.
///
/// Thread safety: exec() may be awaited from coroutines on any executor and thread; the
/// connection's state lives on a strand of the executor given to the constructor.
///
/// Lifetime: the background coroutine owns the connection state (shared), not the client object.
/// close() or the destructor stops it: the socket is closed, waiting requests complete with an
/// error, and the coroutine finishes at the next turn of the executor. Keep running the
/// io_context (or destroy it) afterwards; either frees everything. Results of exec() never refer
/// to the client, so a client may be destroyed while coroutines still await it (they then fail
/// with error::connection_lost or error::outcome_unknown).
///
/// Commands whose replies arrive as push messages (SUBSCRIBE and friends, MONITOR) are refused
/// with error::unexpected_reply: use cachet::redis::subscriber. CLIENT REPLY OFF/SKIP must not be
/// used (replies would no longer match requests).
class client {
 public:
  using executor_type = boost::asio::any_io_executor;

  /// Creates the client; nothing is connected until start() or the first exec().
  /// \throws cachet::error when `cfg` cannot work (see config::require_valid()) or names
  /// cluster seeds.
  CACHET_DECL client(executor_type ex, config cfg);

  client(client&&) noexcept = default;
  CACHET_DECL client& operator=(client&& other) noexcept;
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  /// Stops the connection (see close()).
  ~client() { close(); }

  /// The executor given to the constructor.
  executor_type get_executor() const { return executor_; }

  /// The configuration the client was created with.
  const config& get_config() const { return conn_->cfg(); }

  /// The last connection failure, in words: the server's own text when it refused the handshake
  /// ("WRONGPASS invalid username-password pair ...", "ERR DB index is out of range"), else what
  /// failed ("connecting to host:6379 failed: Connection refused", a lost connection). Empty
  /// before the first attempt and while connected. Any thread.
  ///
  ///   if (auto why = c.last_error(); !why.empty()) log("Redis: " + why);
  CACHET_DECL std::string last_error() const;

  /// Calls `f` on the client's strand after each successful handshake, reconnections included.
  /// Set it before start() and the first exec().
  void on_connected(std::function<void()> f) {
    if (conn_) conn_->on_connected = std::move(f);
  }

  /// For a client that serves one caller at a time (a thread's own connection): a request made
  /// while the connection is idle is written in the caller's turn instead of by the
  /// connection's writer, one wake-up less per request. Requests that several coroutines make
  /// together then go out in two writes instead of one, so a shared client leaves it off (the
  /// default). Set it before start() and the first exec().
  void write_when_idle(bool on) {
    if (conn_) conn_->write_when_idle = on;
  }

  /// For a client on an io_context of its own that one thread runs only while it waits for its
  /// own request (a blocking caller's connection): a request written in its caller's turn
  /// (write_when_idle) is read there too, the thread waiting on the socket until the reply or
  /// the deadline instead of through the io_context (a look for anything the server sent while
  /// the client was idle, the write, a poll and a read: no turn of the io_context, no reader
  /// waiting on the socket between requests). Nothing else on that io_context
  /// runs meanwhile, so never set it on one that serves anything else. Plain TCP only; under
  /// TLS the io_context reads as before. Set it before start() and the first exec().
  void caller_reads(bool on) {
    if (conn_) conn_->caller_reads = on;
  }

  /// Connects in the background now instead of on the first exec(). Idempotent.
  CACHET_DECL void start();

  /// Closes the connection for good; later exec() calls throw request_error(not_connected).
  /// Requests still queued fail with connection_lost, written ones with outcome_unknown.
  CACHET_DECL void close();

  /// Runs one command and returns its reply.
  /// Throws server_error (with the server's text) on an error reply, request_error on anything
  /// else (request_timeout, outcome_unknown, cancelled, not_connected, handshake_failed, ...).
  ///   value v = co_await c.exec("INCRBY", "counter", 5);  // v.as_int()
  /// Arguments are encoded before this returns, so temporaries may be passed safely.
  template <class... Args>
  boost::asio::awaitable<value> exec(std::string_view command, const Args&... args) {
    return exec(request_options{}, command, args...);
  }

  /// exec(command, args...) with per-call options (deadline, idempotency).
  template <class... Args>
  boost::asio::awaitable<value> exec(const request_options& options, std::string_view command,
                                     const Args&... args) {
    auto p = make_pending();             // first: it rejects a moved-from client
    p->commands.push(command, args...);  // encoded once, where the writer takes it from
    return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&,
                                       void(std::exception_ptr, value)>(
        initiate_exec<value>{}, boost::asio::use_awaitable, conn_, std::move(p), options);
  }

  /// Runs a pipeline (all commands written together) and returns one reply per command, in
  /// order. Error replies are returned as values (value::is_error()), not thrown; transport
  /// problems throw request_error. An empty request completes at once with no replies.
  CACHET_DECL boost::asio::awaitable<std::vector<value>> exec(const request& req,
                                                              const request_options& options = {});

  /// exec(req, options) that takes the encoded commands over instead of copying them.
  CACHET_DECL boost::asio::awaitable<std::vector<value>> exec(request&& req,
                                                              const request_options& options = {});

 private:
  CACHET_DECL std::shared_ptr<detail::pending_request> make_pending() const;

  // Runs on the strand: refuses what the connection cannot match replies for, then queues `p`.
  // Returns whether there is a reply to wait for.
  CACHET_DECL static bool admit(detail::connection& conn,
                                const std::shared_ptr<detail::pending_request>& p,
                                const request_options& options);

  // The replies of a complete request as exec() returns them: one value (an error reply thrown
  // as server_error), or all of them.
  CACHET_DECL static value take_result(detail::pending_request& p, value*, std::exception_ptr& e);
  CACHET_DECL static std::vector<value> take_result(detail::pending_request& p, std::vector<value>*,
                                                    std::exception_ptr&);

  // Wakes the operation waiting on `p` when the caller's cancellation slot fires; the flag is
  // read on the strand, where the wait decides. Any cancellation type that reaches the slot
  // (after the caller's own filter) fails the request, as the coroutine-based exec() did.
  struct canceller {
    std::shared_ptr<detail::connection> conn;
    std::shared_ptr<detail::pending_request> p;
    CACHET_DECL void operator()(boost::asio::cancellation_type type) const;
  };

  // Hands the result to the caller's handler on the handler's executor. The cancellation slot is
  // cleared there, in the context that emits on it, before the handler runs. Its associations are
  // its own members rather than binders: asio::dispatch(handler) then runs it inline on the
  // handler's executor, where dispatch(executor, bound handler) would add a work_dispatcher.
  template <class Handler, class Result>
  struct deliver {
    using executor_type = boost::asio::associated_executor_t<Handler, boost::asio::any_io_executor>;
    using allocator_type = boost::asio::associated_allocator_t<Handler>;
    Handler handler;
    executor_type executor;
    std::exception_ptr e;
    Result result;
    executor_type get_executor() const noexcept { return executor; }
    allocator_type get_allocator() const noexcept {
      return boost::asio::get_associated_allocator(handler);
    }
    void operator()() {
      boost::asio::get_associated_cancellation_slot(handler).clear();
      std::move(handler)(e, std::move(result));
    }
  };

  // One exec() after its initiation: admitted on the strand, then waiting on the request's timer
  // (bound to the strand) until the reply, the deadline or a cancellation. A plain handler
  // instead of a coroutine spawned per call: no frame, no co_spawn state, and no strand hop when
  // the caller already runs on the connection's io_context thread.
  template <class Result, class Handler>
  class exec_op {
   public:
    using executor_type = detail::strand_type;
    using allocator_type = boost::asio::associated_allocator_t<Handler>;

    exec_op(Handler handler, std::shared_ptr<detail::connection> conn,
            std::shared_ptr<detail::pending_request> p, const request_options& options)
        : handler_(std::move(handler)),
          conn_(std::move(conn)),
          p_(std::move(p)),
          options_(options) {}

    executor_type get_executor() const noexcept { return conn_->strand(); }
    allocator_type get_allocator() const noexcept {
      return boost::asio::get_associated_allocator(handler_);
    }

    // First step, on the strand.
    void operator()() {
      bool waiting = false;
      std::exception_ptr refused;
      try {
        waiting = admit(*conn_, p_, options_);
      } catch (...) {
        refused = std::current_exception();
      }
      // Completed within exec()'s initiation: posted, never invoked from inside it. Posted after
      // the handler above has ended, so this thread holds no reference to the exception once the
      // caller has it (the caller may free it on its own thread while this one still unwinds).
      if (refused) return finish(std::move(refused), true);
      if (!waiting) return finish(nullptr, true);
      if (p_->done && caller_turn_resumptions < max_caller_turn_resumptions) {
        // Answered in this very turn (connection::caller_reads, which only a thread's own
        // connection sets): the caller, which runs on this thread, resumes here instead of
        // after a turn through the io_context. Bounded, so that a coroutine whose every request
        // is answered this way does not nest without end.
        const caller_turn_resumption nested;
        return wait(false);
      }
      wait(true);
    }

    // The request's timer fired or was cancelled (reply, stop, cancellation): look again.
    void operator()(boost::system::error_code) { wait(false); }

   private:
    // `within_initiation`: still in exec()'s first step (a deadline may pass before the first
    // wait), where a result must be posted rather than delivered.
    void wait(bool within_initiation) {
      auto& p = *p_;
      if (!p.done) {
        if (p.cancel_requested) {
          return finish(std::make_exception_ptr(conn_->given_up(p_, error::cancelled)),
                        within_initiation);
        }
        if (detail::clock::now() >= p.deadline) {
          return finish(std::make_exception_ptr(conn_->given_up(p_, error::request_timeout)),
                        within_initiation);
        }
        p.wake.expires_at(p.deadline);
        p.wake.async_wait(std::move(*this));
        return;
      }
      if (p.ec) return finish(std::make_exception_ptr(conn_->failure_of(p)), within_initiation);
      finish(nullptr, within_initiation);
    }

    void finish(std::exception_ptr e, bool within_initiation) {
      Result result{};
      if (!e && p_->done) result = take_result(*p_, static_cast<Result*>(nullptr), e);
      auto ex =
          boost::asio::get_associated_executor(handler_, conn_->strand().get_inner_executor());
      p_.reset();
      conn_.reset();
      deliver<Handler, Result> d{std::move(handler_), std::move(ex), std::move(e),
                                 std::move(result)};
      if (within_initiation) {
        boost::asio::post(std::move(d));
      } else {
        boost::asio::dispatch(std::move(d));
      }
    }

    Handler handler_;
    std::shared_ptr<detail::connection> conn_;
    std::shared_ptr<detail::pending_request> p_;
    request_options options_;
  };

  // exec() calls resumed inside the initiation of another on this thread (see exec_op).
  static constexpr int max_caller_turn_resumptions = 8;
  static inline thread_local int caller_turn_resumptions = 0;
  struct caller_turn_resumption {
    caller_turn_resumption() noexcept { ++caller_turn_resumptions; }
    caller_turn_resumption(const caller_turn_resumption&) = delete;
    caller_turn_resumption& operator=(const caller_turn_resumption&) = delete;
    ~caller_turn_resumption() { --caller_turn_resumptions; }
  };

  template <class Result>
  struct initiate_exec {
    template <class Handler>
    void operator()(Handler&& handler, std::shared_ptr<detail::connection> conn,
                    std::shared_ptr<detail::pending_request> p,
                    const request_options& options) const {
      auto slot = boost::asio::get_associated_cancellation_slot(handler);
      if (slot.is_connected()) slot.template emplace<canceller>(canceller{conn, p});
      using op_type = exec_op<Result, std::decay_t<Handler>>;
      op_type op(std::forward<Handler>(handler), std::move(conn), std::move(p), options);
      // What asio::dispatch does, without its cost: it queries and prefers properties of the
      // strand's any_io_executor, and each query of a class-typed property (blocking) allocates.
      // A coroutine resumed by a reply is still inside the strand: the op runs inline.
      detail::strand_type strand = op.get_executor();
      if (strand.running_in_this_thread()) {
        op();
      } else if constexpr (std::is_same_v<typename op_type::allocator_type, std::allocator<void>>) {
        strand.execute(std::move(op));  // no allocator of the handler's own to honour
      } else {
        boost::asio::dispatch(std::move(op));  // the handler's allocator wraps the step
      }
    }
  };

  std::shared_ptr<detail::connection> conn_;
  executor_type executor_;
};

}  // namespace cachet::resp3

#if CACHET_INCLUDE_BODIES
#include <cachet/redis/impl/client.ipp>
#endif

#endif
