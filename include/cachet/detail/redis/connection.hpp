#ifndef CACHET_DETAIL_REDIS_CONNECTION_HPP
#define CACHET_DETAIL_REDIS_CONNECTION_HPP

#include <cachet/detail/linkage.hpp>
#include <cachet/detail/redis/parser.hpp>
#include <cachet/detail/resilience/backoff.hpp>
#include <cachet/redis/config.hpp>
#include <cachet/redis/error.hpp>
#include <cachet/redis/request.hpp>
#include <cachet/redis/resp3.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace cachet::resp3 {

namespace detail {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;

/// The executor a connection's state lives on.
using strand_type = asio::strand<asio::any_io_executor>;

/// Coroutines that run on a connection's strand are typed on it: a strand does not fit
/// any_io_executor's small buffer, so erasing it there would cost allocations on every co_spawn,
/// wait and completion.
template <class T>
using strand_awaitable = asio::awaitable<T, strand_type>;
inline constexpr asio::use_awaitable_t<strand_type> on_strand{};

/// A request's replies, in order, the first one inline: most requests are one command, and this
/// saves their allocation.
class reply_list {
 public:
  bool empty() const noexcept { return count_ == 0; }
  std::size_t size() const noexcept { return count_; }
  value& front() noexcept { return first_; }

  void push_back(value&& v) {
    if (count_ == 0) {
      first_ = std::move(v);
    } else {
      rest_.push_back(std::move(v));
    }
    ++count_;
  }

  void clear() noexcept {
    first_ = value{};
    rest_.clear();
    count_ = 0;
  }

  /// Moves the replies out, in order, into one vector.
  std::vector<value> take() {
    std::vector<value> all;
    all.reserve(count_);
    if (count_ > 0) all.push_back(std::move(first_));
    for (value& v : rest_) all.push_back(std::move(v));
    clear();
    return all;
  }

 private:
  value first_;
  std::vector<value> rest_;
  std::size_t count_ = 0;
};

/// One request (one or more commands) on its way through a connection.
struct pending_request {
  // The timer is bound to the strand's inner executor, not to the strand: a strand converted to
  // any_io_executor does not fit its small buffer and would cost an allocation per request. Its
  // waiter (a coroutine, or client::exec's operation, whose handler is bound to the strand) runs
  // on the strand, which is where the wait completes either way.
  explicit pending_request(const strand_type& strand) : wake(strand.get_inner_executor()) {}

  request commands;          // encoded once, by the caller, and written from here
  std::size_t expected = 0;  // replies that complete it
  reply_list replies;
  clock::time_point deadline = clock::time_point::max();
  std::chrono::milliseconds timeout{0};
  bool idempotent = false;
  bool internal = false;   // sent by the connection itself (health-check PING): no waiter
  bool written = false;    // handed to the socket: its outcome is unknown if the connection drops
  bool abandoned = false;  // the waiter gave up; its replies are read and discarded
  bool cancel_requested = false;  // client::exec's caller cancelled; its waiter sees it on wake
  bool done = false;
  std::error_code ec;
  std::string message;      // what() for ec
  asio::steady_timer wake;  // the waiter sleeps on it until the deadline; cancel() wakes it
};

/// Whether `name` (any case) is a command whose replies arrive as push messages, which would
/// desynchronise reply matching.
CACHET_DECL bool is_push_reply_command(std::string_view name);

/// The first command of an encoded payload (arrays of bulk strings) that is_push_reply_command
/// refuses, as written; empty if there is none.
CACHET_DECL std::string_view first_push_reply_command(std::string_view payload);

inline std::string millis(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

/// One logical connection to a Redis server: a background coroutine that connects, performs the
/// handshake, then runs one reader loop, one writer loop and a health check, reconnecting with
/// backoff until stop(). Requests from any number of coroutines are queued, coalesced into one
/// write and matched with replies in FIFO order. All state lives on one strand; the public
/// client reaches it by dispatching its operation onto that strand (client::exec).
class connection : public std::enable_shared_from_this<connection> {
 public:
  using strand_type = detail::strand_type;

  CACHET_DECL connection(const asio::any_io_executor& ex, config cfg);
  CACHET_DECL ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  const config& cfg() const { return cfg_; }
  const strand_type& strand() const { return strand_; }

  // Everything below runs on the strand.

  /// Receives every push message ('>'); without one, pushes are dropped.
  std::function<void(value&&)> on_push;
  /// Called after each successful handshake (replaying subscriptions, for instance).
  std::function<void()> on_connected;
  /// For a connection that serves one caller at a time (a blocking caller's own): a request
  /// made while nothing else is queued, in flight or being written goes to the socket in its
  /// caller's turn on the strand, saving the turn that waking the writer costs. Off by
  /// default: requests that many coroutines make together then leave in one write, not two.
  bool write_when_idle = false;
  /// For a connection on an io_context of its own that one thread runs only while it waits for
  /// its own request (a blocking caller's lane): a request write_when_idle wrote whole is also
  /// read in its caller's turn, the thread waiting on the socket itself (poll) until the reply
  /// or the deadline instead of going back to the io_context. Nothing else on that io_context
  /// runs meanwhile. The reader coroutine then reads only while something else is in flight.
  /// Plain TCP only: under TLS the io_context reads, as without it.
  bool caller_reads = false;
  /// Called each time an established connection drops (not for failed attempts): what the
  /// server pushed on it (client tracking, say) must be set up again on the next one.
  std::function<void()> on_disconnected;

  bool connected() const { return connected_; }
  bool stopped() const { return stopped_; }

  /// Starts the background coroutine unless it runs or the connection was stopped.
  CACHET_DECL void start();

  /// Stops for good: closes the socket, fails queued requests with connection_lost and written
  /// ones with outcome_unknown. The background coroutine then finishes on its own.
  CACHET_DECL void stop();

  /// Queues a request built by the caller (payload, expected reply count) for the writer and
  /// starts the connection on first use. `p` expects at least one reply: admit() completes a
  /// request without replies at once, and only enqueue_front() queues one (subscriptions).
  CACHET_DECL void enqueue(const std::shared_ptr<pending_request>& p);

  /// Queues a request that must be written before any queued request (subscriptions replayed
  /// right after the handshake).
  CACHET_DECL void enqueue_front(const std::shared_ptr<pending_request>& p);

  /// The waiter gave up on `p` (deadline or cancellation): drop it if it was never written;
  /// otherwise its reply still arrives and is discarded, keeping replies in step.
  CACHET_DECL void abandon(const std::shared_ptr<pending_request>& p);

  /// The last connection failure (a refused or lost connection, the server's text refusing the
  /// handshake); empty once a handshake succeeds. Any thread.
  std::string last_error() const {
    std::lock_guard lock(last_error_mutex_);
    return last_error_;
  }

  /// Why the connection is (or last was) down, for error messages.
  CACHET_DECL std::string down_reason() const;

  /// Sets `p`'s deadline from `timeout` (zero: none), queues it and awaits it (see wait_for).
  /// Runs on the strand. Throws request_error(not_connected) once the connection was stopped.
  CACHET_DECL static strand_awaitable<void> submit(std::shared_ptr<connection> self,
                                                   std::shared_ptr<pending_request> p,
                                                   std::chrono::milliseconds timeout);

  /// submit() without the wait, for callers that await wait_for() in their own frame: returns
  /// whether `p` was queued (false: it expects no reply and is complete). Runs on the strand.
  CACHET_DECL bool admit(const std::shared_ptr<pending_request>& p,
                         std::chrono::milliseconds timeout);

  /// Awaits `p` on the strand until it completes, its deadline passes, or the caller cancels.
  /// Throws request_error on anything but a complete set of replies (left in p->replies).
  CACHET_DECL static strand_awaitable<void> wait_for(std::shared_ptr<connection> self,
                                                     std::shared_ptr<pending_request> p);

  /// The waiter of `p` gives up on it, `why` being error::cancelled (by its caller) or
  /// error::request_timeout (its deadline passed): abandons it and returns the error to report.
  /// The one wording for wait_for() and client::exec(). Runs on the strand.
  CACHET_DECL request_error given_up(const std::shared_ptr<pending_request>& p, error why);

  /// The error of a complete `p` that failed (p.ec set: connection lost, outcome unknown, ...).
  static request_error failure_of(const pending_request& p) {
    return request_error(p.ec, p.message.empty() ? "cachet::redis: " + p.ec.message() : p.message);
  }

 private:
  std::string refusal_message() const {
    return "cachet::redis: the server refused the handshake (HELLO/AUTH/SETNAME/SELECT): " +
           handshake_refusal_ + "; check config.username, password and database";
  }

  CACHET_DECL static void complete(const std::shared_ptr<pending_request>& p, std::error_code ec,
                                   std::string message = {});

  CACHET_DECL void fail_queued(std::error_code ec, const std::string& message);

  void set_last_error(std::string text) {
    std::lock_guard lock(last_error_mutex_);
    last_error_ = std::move(text);
  }

  CACHET_DECL void fail_all(error queued_error, const std::string& why);

  // The connection dropped: written requests cannot be answered any more. Idempotent ones go back
  // to the front of the queue, in their original order, unless the connection is stopping.
  CACHET_DECL void fail_in_flight(const std::string& why);

  CACHET_DECL void close_transport(std::error_code reason, std::string why);

  // write_when_idle's write. Returns whether `p` was handed to the socket (in part: the rest
  // waits in unsent_ for the writer).
  CACHET_DECL bool write_idle(const std::shared_ptr<pending_request>& p);

  // Reads until one whole reply is parsed.
  CACHET_DECL strand_awaitable<std::error_code> read_value(std::optional<value>& out);

  // Room for the next read (read_chunk bytes) at the end of the read buffer, after what is
  // parsed was dropped.
  static constexpr std::size_t read_chunk = 16 * 1024;
  CACHET_DECL char* read_space();

  // A value the server sent: a push goes to on_push, a reply to the oldest request in flight.
  // Returns false when it ended the connection (no request waited for it; READONLY behind
  // Sentinel).
  CACHET_DECL bool take(value&& reply);

  // caller_reads' read, right after write_idle() wrote `p` whole: on this thread, until `p` is
  // complete, its deadline passes, the connection fails (then closed, for run() to fail or
  // re-send what was in flight) or the health check would be due. Whatever is still in flight
  // afterwards is left to the reader.
  CACHET_DECL void read_in_caller_turn(const std::shared_ptr<pending_request>& p);

  // Whether the connection was closed by its peer, failed, or was sent a reply nobody asked for
  // while idle (then closed here), looked at without waiting before a caller_reads write: the
  // reader does not watch an idle lane's socket.
  CACHET_DECL bool dropped_while_idle();

  // Parses and takes every whole value in the read buffer. Returns false when that ended the
  // connection (malformed bytes, or see take()).
  CACHET_DECL bool take_buffered();

  // caller_reads: something is in flight that the caller does not read itself. The reader
  // counts as reading from here on, so that no caller reads beside it.
  void arm_reader() {
    if (!reader_idle_) return;
    reader_idle_ = false;
    reader_wake_.cancel();
  }

  // A deadline for one connection phase. When it passes, `expire` (cancelling the resolver or
  // closing the socket) makes the phase's operation finish with an error; this does not rely on
  // per-operation cancellation, which the resolver does not support. A generation number keeps a
  // late expiry from touching the next phase.
  template <class Expire>
  void arm_guard(std::chrono::milliseconds limit, Expire expire) {
    ++guard_generation_;
    guard_fired_ = false;
    if (limit.count() == 0) return;
    guard_timer_.expires_after(limit);
    guard_timer_.async_wait([self = shared_from_this(), generation = guard_generation_,
                             expire](boost::system::error_code ec) {
      if (ec || generation != self->guard_generation_) return;
      self->guard_fired_ = true;
      expire(*self);
    });
  }

  // Returns whether the deadline had passed.
  CACHET_DECL bool disarm_guard();

  CACHET_DECL static void close_socket(connection& c);

  // TCP, then TLS when configured (within the handshake's limit).
  CACHET_DECL strand_awaitable<std::error_code> resolve_and_connect(const std::string& host,
                                                                    std::uint16_t port);

  bool behind_sentinel() const { return !cfg_.sentinel.addresses.empty(); }

  // Asks the sentinels in turn for the master's address; the one that answers is asked first
  // next time.
  CACHET_DECL strand_awaitable<std::error_code> ask_sentinels(std::string& host,
                                                              std::uint16_t& port);

  CACHET_DECL strand_awaitable<std::error_code> ask_sentinel(
      const sentinel_options::address& sentinel, std::string& host, std::uint16_t& port,
      std::string& why);

  CACHET_DECL void reset_reader();

  CACHET_DECL strand_awaitable<std::error_code> handshake_steps();

  CACHET_DECL strand_awaitable<std::error_code> connect_and_handshake();

  CACHET_DECL strand_awaitable<void> reader_loop();

  CACHET_DECL strand_awaitable<void> writer_loop();

  CACHET_DECL strand_awaitable<void> health_loop();

  CACHET_DECL static strand_awaitable<void> run(std::shared_ptr<connection> self);

  config cfg_;
  strand_type strand_;
  // The socket (TCP, or TLS over it) and the resolver, defined in impl/connection.ipp: a unit
  // compiled under CACHET_SEPARATE_COMPILATION parses neither Asio's TCP nor the transport.
  struct network;
  std::unique_ptr<network> net_;
  asio::steady_timer writer_wake_;
  asio::steady_timer reader_wake_;  // caller_reads: the reader waits on it while nothing is due
  asio::steady_timer health_timer_;
  asio::steady_timer retry_timer_;
  asio::steady_timer guard_timer_;
  std::uint64_t guard_generation_ = 0;
  bool guard_fired_ = false;
  ::cachet::detail::backoff_schedule backoff_;
  parser parser_;
  std::string rbuf_;
  std::size_t rpos_ = 0;  // parsed up to here
  std::size_t rend_ = 0;  // received up to here
  std::deque<std::shared_ptr<pending_request>> write_queue_;
  std::string unsent_;        // the tail of a request write_idle() wrote in part: written next
  bool writer_idle_ = false;  // the writer waits for requests (no write of its own under way)
  bool reader_idle_ = false;  // caller_reads: the reader waits on reader_wake_, not the socket
  std::deque<std::shared_ptr<pending_request>> in_flight_;
  clock::time_point last_read_ = clock::now();
  std::string last_failure_;
  std::string handshake_refusal_;
  std::string target_;           // host:port of the last connection attempt
  std::string connect_refusal_;  // why TLS or Sentinel failed the last attempt
  std::size_t next_sentinel_ = 0;
  bool running_ = false;
  bool stopped_ = false;
  bool connected_ = false;
  bool refused_ = false;  // the last handshake was refused: fail requests fast until one succeeds
  bool backing_off_ = false;  // waiting out the backoff before the next connection attempt
  mutable std::mutex last_error_mutex_;
  std::string last_error_;  // last_failure_ for other threads, empty while connected
};

}  // namespace detail
}  // namespace cachet::resp3

#if CACHET_INCLUDE_BODIES
#include <cachet/detail/redis/impl/connection.ipp>
#endif

#endif
