#ifndef CACHET_DETAIL_REDIS_CONNECTION_HPP
#define CACHET_DETAIL_REDIS_CONNECTION_HPP

#include <cachet/detail/redis/parser.hpp>
#include <cachet/detail/redis/transport.hpp>
#include <cachet/detail/resilience/backoff.hpp>
#include <cachet/redis/config.hpp>
#include <cachet/redis/error.hpp>
#include <cachet/redis/request.hpp>
#include <cachet/redis/resp3.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/container/small_vector.hpp>

#include <algorithm>
#include <charconv>
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

/// One request (one or more commands) on its way through a connection.
struct pending_request {
  // The timer is bound to the strand's inner executor, not to the strand: a strand converted to
  // any_io_executor does not fit its small buffer and would cost an allocation per request. Its
  // waiter (a coroutine, or client::exec's operation, whose handler is bound to the strand) runs
  // on the strand, which is where the wait completes either way.
  explicit pending_request(const strand_type& strand) : wake(strand.get_inner_executor()) {}

  request commands;          // encoded once, by the caller, and written from here
  std::size_t expected = 0;  // replies that complete it
  // Room for one reply inline: most requests are one command, and this saves their allocation.
  boost::container::small_vector<value, 1> replies;
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
inline bool is_push_reply_command(std::string_view name) {
  constexpr std::string_view refused[] = {"SUBSCRIBE",   "PSUBSCRIBE",   "SSUBSCRIBE",
                                          "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE",
                                          "MONITOR"};
  auto upper = [](char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; };
  return std::any_of(std::begin(refused), std::end(refused), [&](std::string_view r) {
    return r.size() == name.size() && std::equal(r.begin(), r.end(), name.begin(),
                                                 [&](char a, char b) { return a == upper(b); });
  });
}

/// The first command of an encoded payload (arrays of bulk strings) that is_push_reply_command
/// refuses, as written; empty if there is none.
inline std::string_view first_push_reply_command(std::string_view payload) {
  auto read_number = [&](char marker) -> long long {
    if (payload.empty() || payload.front() != marker) return -1;
    auto eol = payload.find("\r\n");
    if (eol == std::string_view::npos) return -1;
    long long n = 0;
    for (char c : payload.substr(1, eol - 1)) n = n * 10 + (c - '0');
    payload.remove_prefix(eol + 2);
    return n;
  };
  while (!payload.empty()) {
    long long args = read_number('*');
    if (args < 0) break;
    for (long long i = 0; i < args; ++i) {
      long long len = read_number('$');
      if (len < 0 || static_cast<std::size_t>(len) + 2 > payload.size()) return {};
      auto argument = payload.substr(0, static_cast<std::size_t>(len));
      if (i == 0 && is_push_reply_command(argument)) return argument;
      payload.remove_prefix(static_cast<std::size_t>(len) + 2);
    }
  }
  return {};
}

inline std::string millis(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

/// One logical connection to a Redis server: a background coroutine that connects, performs the
/// handshake, then runs one reader loop, one writer loop and a health check, reconnecting with
/// backoff until stop(). Requests from any number of coroutines are queued, coalesced into one
/// write and matched with replies in FIFO order. All state lives on one strand; the public
/// client reaches it by dispatching its operation onto that strand (client::exec).
class connection : public std::enable_shared_from_this<connection> {
 public:
  using strand_type = detail::strand_type;

  connection(const asio::any_io_executor& ex, config cfg)
      : cfg_(std::move(cfg)),
        strand_(asio::make_strand(ex)),
        socket_(strand_, cfg_.tls),
        resolver_(strand_),
        writer_wake_(strand_),
        health_timer_(strand_),
        retry_timer_(strand_),
        guard_timer_(strand_),
        backoff_(cfg_.reconnect_min_delay, cfg_.reconnect_max_delay) {}

  const config& cfg() const { return cfg_; }
  const strand_type& strand() const { return strand_; }

  // Everything below runs on the strand.

  /// Receives every push message ('>'); without one, pushes are dropped.
  std::function<void(value&&)> on_push;
  /// Called after each successful handshake (replaying subscriptions, for instance).
  std::function<void()> on_connected;
  /// Called each time an established connection drops (not for failed attempts): what the
  /// server pushed on it (client tracking, say) must be set up again on the next one.
  std::function<void()> on_disconnected;

  bool connected() const { return connected_; }
  bool stopped() const { return stopped_; }

  /// Starts the background coroutine unless it runs or the connection was stopped.
  void start() {
    if (running_ || stopped_) return;
    running_ = true;
    asio::co_spawn(strand_, run(shared_from_this()), asio::detached);
  }

  /// Stops for good: closes the socket, fails queued requests with connection_lost and written
  /// ones with outcome_unknown. The background coroutine then finishes on its own.
  void stop() {
    if (stopped_) return;
    stopped_ = true;
    close_transport(make_error_code(error::not_connected), "the client was closed");
    resolver_.cancel();
    retry_timer_.cancel();
    disarm_guard();
    fail_all(error::connection_lost, "the client was closed before the request was written");
  }

  /// Queues a request built by the caller (payload, expected reply count) for the writer and
  /// starts the connection on first use.
  void enqueue(const std::shared_ptr<pending_request>& p) {
    write_queue_.push_back(p);
    writer_wake_.cancel();
    start();
    // A waiting request is worth a connection attempt now rather than after the backoff: it
    // gets an answer, or the attempt's failure, at once instead of at its deadline. Requests
    // made during one attempt share it.
    if (backing_off_) retry_timer_.cancel();
  }

  /// Queues a request that must be written before any queued request (subscriptions replayed
  /// right after the handshake).
  void enqueue_front(const std::shared_ptr<pending_request>& p) {
    write_queue_.push_front(p);
    writer_wake_.cancel();
  }

  /// The waiter gave up on `p` (deadline or cancellation): drop it if it was never written;
  /// otherwise its reply still arrives and is discarded, keeping replies in step.
  void abandon(const std::shared_ptr<pending_request>& p) {
    if (p->done) return;
    p->abandoned = true;
    if (!p->written) {
      auto it = std::find(write_queue_.begin(), write_queue_.end(), p);
      if (it != write_queue_.end()) write_queue_.erase(it);
    }
  }

  /// The last connection failure (a refused or lost connection, the server's text refusing the
  /// handshake); empty once a handshake succeeds. Any thread.
  std::string last_error() const {
    std::lock_guard lock(last_error_mutex_);
    return last_error_;
  }

  /// Why the connection is (or last was) down, for error messages.
  std::string down_reason() const {
    if (connected_) return "connected";
    if (last_failure_.empty()) return "not connected yet";
    return "not connected: " + last_failure_;
  }

  /// Sets `p`'s deadline from `timeout` (zero: none), queues it and awaits it (see wait_for).
  /// Runs on the strand. Throws request_error(not_connected) once the connection was stopped.
  static strand_awaitable<void> submit(std::shared_ptr<connection> self,
                                       std::shared_ptr<pending_request> p,
                                       std::chrono::milliseconds timeout) {
    if (!self->admit(p, timeout)) co_return;
    co_await wait_for(std::move(self), std::move(p));
  }

  /// submit() without the wait, for callers that await wait_for() in their own frame: returns
  /// whether `p` was queued (false: it expects no reply and is complete). Runs on the strand.
  bool admit(const std::shared_ptr<pending_request>& p, std::chrono::milliseconds timeout) {
    if (stopped_)
      throw request_error(error::not_connected,
                          "cachet::redis: the client was closed; create a new one");
    if (refused_ && !connected_) throw request_error(error::handshake_failed, refusal_message());
    p->timeout = timeout;
    if (timeout.count() > 0) p->deadline = clock::now() + timeout;
    if (p->expected == 0) return false;
    enqueue(p);
    return true;
  }

  /// Awaits `p` on the strand until it completes, its deadline passes, or the caller cancels.
  /// Throws request_error on anything but a complete set of replies (left in p->replies).
  static strand_awaitable<void> wait_for(std::shared_ptr<connection> self,
                                         std::shared_ptr<pending_request> p) {
    co_await asio::this_coro::throw_if_cancelled(false);
    for (;;) {
      if (p->done) break;
      // Checked before each wait too: a cancellation emitted before the wait began is only
      // recorded in the state, it does not abort the wait.
      auto state = co_await asio::this_coro::cancellation_state;
      if (state.cancelled() != asio::cancellation_type::none)
        throw self->given_up(p, error::cancelled);
      if (clock::now() >= p->deadline) throw self->given_up(p, error::request_timeout);
      p->wake.expires_at(p->deadline);
      boost::system::error_code ignored;
      co_await p->wake.async_wait(asio::redirect_error(on_strand, ignored));
    }
    if (p->ec) throw failure_of(*p);
  }

  /// The waiter of `p` gives up on it, `why` being error::cancelled (by its caller) or
  /// error::request_timeout (its deadline passed): abandons it and returns the error to report.
  /// The one wording for wait_for() and client::exec(). Runs on the strand.
  request_error given_up(const std::shared_ptr<pending_request>& p, error why) {
    abandon(p);
    if (why == error::cancelled)
      return request_error(why,
                           "cachet::redis: the request was cancelled by its caller; if it was "
                           "already written its reply is discarded when it arrives");
    return request_error(
        why, "cachet::redis: request timed out after " + millis(p->timeout) + " (" +
                 (p->written ? std::string("written, no reply yet") : down_reason()) +
                 "); raise config.request_timeout or request_options::timeout, or check the "
                 "server");
  }

  /// The error of a complete `p` that failed (p.ec set: connection lost, outcome unknown, ...).
  static request_error failure_of(const pending_request& p) {
    return request_error(p.ec, p.message.empty() ? "cachet::redis: " + p.ec.message() : p.message);
  }

 private:
  std::string refusal_message() const {
    return "cachet::redis: the server refused the handshake (HELLO/AUTH/SETNAME/SELECT): " +
           handshake_refusal_ + "; check config.username, password and database";
  }

  static void complete(const std::shared_ptr<pending_request>& p, std::error_code ec,
                       std::string message = {}) {
    if (p->done) return;
    p->done = true;
    p->ec = ec;
    p->message = std::move(message);
    p->wake.cancel();
  }

  void fail_queued(std::error_code ec, const std::string& message) {
    auto queued = std::move(write_queue_);
    write_queue_.clear();
    for (auto& p : queued) complete(p, ec, message);
  }

  void set_last_error(std::string text) {
    std::lock_guard lock(last_error_mutex_);
    last_error_ = std::move(text);
  }

  void fail_all(error queued_error, const std::string& why) {
    fail_in_flight(why);
    auto queued = std::move(write_queue_);
    write_queue_.clear();
    for (auto& p : queued)
      complete(p, queued_error,
               "cachet::redis: " + why + " (" + make_error_code(queued_error).message() + ")");
  }

  // The connection dropped: written requests cannot be answered any more. Idempotent ones go back
  // to the front of the queue, in their original order, unless the connection is stopping.
  void fail_in_flight(const std::string& why) {
    auto flying = std::move(in_flight_);
    in_flight_.clear();
    std::vector<std::shared_ptr<pending_request>> resend;
    for (auto& p : flying) {
      if (p->abandoned || p->internal) {
        complete(p, error::outcome_unknown);
      } else if (p->idempotent && !stopped_) {
        p->written = false;
        p->replies.clear();
        resend.push_back(p);
      } else {
        complete(p, error::outcome_unknown,
                 "cachet::redis: the connection dropped after the request was written and before "
                 "its reply (" +
                     why +
                     "); it may or may not have taken effect: check, or mark "
                     "it request_options::idempotent to have it re-sent");
      }
    }
    // The connection's own requests (health-check PING, subscription replay) belong to it.
    for (auto& p : write_queue_)
      if (p->internal) complete(p, error::connection_lost);
    std::erase_if(write_queue_, [](const auto& p) { return p->internal; });
    write_queue_.insert(write_queue_.begin(), resend.begin(), resend.end());
  }

  void close_transport(std::error_code reason, std::string why) {
    if (socket_.is_open()) {
      boost::system::error_code ignored;
      socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
      socket_.close(ignored);
      last_failure_ = std::move(why) + " (" + reason.message() + ")";
    }
    writer_wake_.cancel();
    health_timer_.cancel();
  }

  // Reads until one whole reply is parsed.
  strand_awaitable<std::error_code> read_value(std::optional<value>& out) {
    for (;;) {
      std::error_code ec;
      out.reset();
      std::size_t used =
          parser_.parse(std::string_view(rbuf_.data() + rpos_, rend_ - rpos_), out, ec);
      rpos_ += used;
      if (ec) co_return ec;
      if (out) co_return std::error_code{};
      // Compacted once per read. The buffer only grows, and its size is not the filled part
      // (rend_), so a read does not zero-fill the chunk it is about to overwrite.
      if (rpos_ > 0) {
        std::copy(rbuf_.begin() + static_cast<std::ptrdiff_t>(rpos_),
                  rbuf_.begin() + static_cast<std::ptrdiff_t>(rend_), rbuf_.begin());
        rend_ -= rpos_;
        rpos_ = 0;
      }
      constexpr std::size_t chunk = 16 * 1024;
      if (rbuf_.size() < rend_ + chunk) rbuf_.resize(rend_ + chunk);
      auto [rec, n] = co_await socket_.async_read_some(asio::buffer(rbuf_.data() + rend_, chunk),
                                                       asio::as_tuple(on_strand));
      rend_ += n;
      if (rec) co_return std::error_code(rec);
      last_read_ = clock::now();
    }
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
  bool disarm_guard() {
    ++guard_generation_;
    guard_timer_.cancel();
    return guard_fired_;
  }

  static void close_socket(connection& c) {
    boost::system::error_code ignored;
    c.socket_.close(ignored);
  }

  // TCP, then TLS when configured (within the handshake's limit).
  strand_awaitable<std::error_code> resolve_and_connect(const std::string& host,
                                                        std::uint16_t port) {
    arm_guard(cfg_.resolve_timeout, [](connection& c) { c.resolver_.cancel(); });
    auto [rec, endpoints] =
        co_await resolver_.async_resolve(host, std::to_string(port), asio::as_tuple(on_strand));
    if (disarm_guard()) co_return make_error_code(error::resolve_timeout);
    if (rec) co_return std::error_code(rec);
    if (stopped_) co_return make_error_code(error::not_connected);

    socket_.renew();
    arm_guard(cfg_.connect_timeout, close_socket);
    auto [cec, endpoint] =
        co_await asio::async_connect(socket_.socket(), endpoints, asio::as_tuple(on_strand));
    (void)endpoint;
    if (disarm_guard()) {
      close_socket(*this);
      co_return make_error_code(error::connect_timeout);
    }
    if (cec) co_return std::error_code(cec);
    boost::system::error_code ignored;
    socket_.socket().set_option(asio::ip::tcp::no_delay(true), ignored);
    arm_guard(cfg_.handshake_timeout, close_socket);
    auto tls_ec = co_await socket_.tls_handshake<strand_type>(host);
    if (disarm_guard()) co_return make_error_code(error::handshake_timeout);
    if (tls_ec) co_return make_error_code(error::tls_handshake_failed);
    co_return std::error_code{};
  }

  bool behind_sentinel() const { return !cfg_.sentinel.addresses.empty(); }

  // Asks the sentinels in turn for the master's address; the one that answers is asked first
  // next time.
  strand_awaitable<std::error_code> ask_sentinels(std::string& host, std::uint16_t& port) {
    const auto& sentinels = cfg_.sentinel.addresses;
    std::string failures;
    for (std::size_t tried = 0; tried < sentinels.size(); ++tried) {
      const std::size_t index = (next_sentinel_ + tried) % sentinels.size();
      std::string why;
      auto ec = co_await ask_sentinel(sentinels[index], host, port, why);
      boost::system::error_code ignored;
      socket_.close(ignored);
      if (stopped_) co_return make_error_code(error::not_connected);
      if (!ec) {
        next_sentinel_ = index;
        co_return std::error_code{};
      }
      failures += (failures.empty() ? "" : "; ") + sentinels[index].host + ":" +
                  std::to_string(sentinels[index].port) + " " + why;
    }
    connect_refusal_ = "no sentinel gave the address of master \"" + cfg_.sentinel.master_name +
                       "\" (" + failures + ")";
    co_return make_error_code(error::sentinel_unavailable);
  }

  strand_awaitable<std::error_code> ask_sentinel(const sentinel_options::address& sentinel,
                                                 std::string& host, std::uint16_t& port,
                                                 std::string& why) {
    reset_reader();
    auto ec = co_await resolve_and_connect(sentinel.host, sentinel.port);
    if (ec) {
      why = ec == error::tls_handshake_failed ? socket_.failure() : ec.message();
      co_return ec;
    }
    request ask;
    ask.push("SENTINEL", "GET-MASTER-ADDR-BY-NAME", cfg_.sentinel.master_name);
    arm_guard(cfg_.handshake_timeout, close_socket);
    auto [wec, n] =
        co_await asio::async_write(socket_, asio::buffer(ask.payload()), asio::as_tuple(on_strand));
    (void)n;
    std::optional<value> reply;
    ec = wec;
    if (!ec) ec = co_await read_value(reply);
    if (disarm_guard()) ec = make_error_code(error::handshake_timeout);
    if (ec) {
      why = ec.message();
      co_return ec;
    }
    const auto& address = reply->elements;
    if (reply->is_error()) {
      why = "answered: " + reply->text;
    } else if (reply->is_null()) {
      why = "monitors no master of that name";
    } else if (address.size() != 2 || !address[0].is_string() || !address[1].is_string()) {
      why = "gave no host and port";
    } else {
      const std::string& port_text = address[1].text;
      auto [end, pec] =
          std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
      if (pec == std::errc{} && end == port_text.data() + port_text.size()) {
        host = address[0].text;
        co_return std::error_code{};
      }
      why = "gave the port \"" + port_text + "\"";
    }
    co_return make_error_code(error::sentinel_unavailable);
  }

  void reset_reader() {
    parser_.reset();
    rbuf_.clear();
    rpos_ = 0;
    rend_ = 0;
  }

  strand_awaitable<std::error_code> handshake_steps() {
    request hello;
    std::vector<std::string> args{"3"};
    if (!cfg_.password.empty()) {
      args.insert(
          args.end(),
          {"AUTH", cfg_.username.empty() ? std::string("default") : cfg_.username, cfg_.password});
    }
    if (!cfg_.client_name.empty()) args.insert(args.end(), {"SETNAME", cfg_.client_name});
    hello.push("HELLO", args);
    if (cfg_.database != 0) hello.push("SELECT", cfg_.database);
    // Behind Sentinel, the server named may have been demoted since: it must say it is a master.
    if (behind_sentinel()) hello.push("ROLE");

    auto [wec, n] = co_await asio::async_write(socket_, asio::buffer(hello.payload()),
                                               asio::as_tuple(on_strand));
    (void)n;
    if (wec) co_return std::error_code(wec);
    std::string refused;
    std::string role;
    for (std::size_t answered = 0; answered < hello.size();) {
      std::optional<value> reply;
      // co_await is kept out of conditions: g++ 12 miscompiles some such forms.
      auto ec = co_await read_value(reply);
      if (ec) co_return ec;
      if (reply->type == type::push) {
        if (on_push) on_push(std::move(*reply));
        continue;
      }
      ++answered;
      if (reply->is_error() && refused.empty()) refused = reply->text;
      if (behind_sentinel() && answered == hello.size() && !reply->elements.empty())
        role = reply->elements.front().text;
    }
    if (!refused.empty()) {
      handshake_refusal_ = std::move(refused);
      co_return make_error_code(error::handshake_failed);
    }
    if (behind_sentinel() && role != "master") {
      connect_refusal_ = target_ + " is not a master (ROLE: " + role + ")";
      co_return make_error_code(error::not_master);
    }
    co_return std::error_code{};
  }

  strand_awaitable<std::error_code> connect_and_handshake() {
    std::string host = cfg_.host;
    std::uint16_t port = cfg_.port;
    if (behind_sentinel()) {
      auto ec = co_await ask_sentinels(host, port);
      if (ec) co_return ec;
    }
    reset_reader();
    target_ = host + ":" + std::to_string(port);
    auto connect_ec = co_await resolve_and_connect(host, port);
    if (connect_ec == error::tls_handshake_failed)
      connect_refusal_ = "the TLS handshake with " + target_ + " failed: " + socket_.failure();
    if (connect_ec) co_return connect_ec;
    if (stopped_) co_return make_error_code(error::not_connected);
    arm_guard(cfg_.handshake_timeout, close_socket);
    auto ec = co_await handshake_steps();
    if (disarm_guard()) co_return make_error_code(error::handshake_timeout);
    // With TLS 1.3 a server refuses a client certificate after the handshake: its alert, or
    // just a reset, ends the first read. (Errors of cachet's own category are the server's
    // answers or malformed bytes, not the transport's.)
    if (cfg_.tls.enabled && ec && ec.category() != error_category()) {
      connect_refusal_ = "the server ended the TLS session with " + target_ +
                         " before answering HELLO (" + ec.message() +
                         "); a server with tls-auth-clients needs a client certificate";
      co_return make_error_code(error::tls_handshake_failed);
    }
    co_return ec;
  }

  strand_awaitable<void> reader_loop() {
    for (;;) {
      std::optional<value> reply;
      auto ec = co_await read_value(reply);
      if (ec) {
        close_transport(ec, "reading failed");
        co_return;
      }
      if (reply->type == type::push) {
        if (on_push) on_push(std::move(*reply));
        continue;
      }
      if (in_flight_.empty()) {
        close_transport(make_error_code(error::unexpected_reply),
                        "the server sent a reply no request was waiting for");
        co_return;
      }
      // A master demoted by a failover refuses writes: ask Sentinel again.
      const bool demoted =
          behind_sentinel() && reply->is_error() && reply->text.starts_with("READONLY");
      auto& front = in_flight_.front();
      front->replies.push_back(std::move(*reply));
      if (front->replies.size() == front->expected) {
        auto p = std::move(front);
        in_flight_.pop_front();
        complete(p, {});
      }
      if (demoted) {
        close_transport(make_error_code(error::not_master),
                        target_ + " answered READONLY: it is a replica now");
        co_return;
      }
    }
  }

  strand_awaitable<void> writer_loop() {
    std::string batch;
    for (;;) {
      if (!socket_.is_open()) co_return;
      if (write_queue_.empty()) {
        writer_wake_.expires_at(clock::time_point::max());
        boost::system::error_code ignored;
        co_await writer_wake_.async_wait(asio::redirect_error(on_strand, ignored));
        continue;
      }
      // Everything queued so far goes out in one write: automatic pipelining.
      batch.clear();
      while (!write_queue_.empty()) {
        auto p = std::move(write_queue_.front());
        write_queue_.pop_front();
        batch += p->commands.payload();
        p->written = true;
        if (p->expected == 0) {
          complete(p, {});
        } else {
          in_flight_.push_back(std::move(p));
        }
      }
      auto [ec, n] =
          co_await asio::async_write(socket_, asio::buffer(batch), asio::as_tuple(on_strand));
      (void)n;
      if (ec) {
        close_transport(ec, "writing failed");
        co_return;
      }
    }
  }

  strand_awaitable<void> health_loop() {
    const auto interval = cfg_.health_check_interval;
    for (;;) {
      if (!socket_.is_open()) co_return;
      boost::system::error_code ignored;
      const auto idle_since = last_read_;
      if (interval.count() == 0 || clock::now() < idle_since + interval) {
        if (interval.count() == 0) {
          health_timer_.expires_at(clock::time_point::max());
        } else {
          health_timer_.expires_at(idle_since + interval);
        }
        co_await health_timer_.async_wait(asio::redirect_error(on_strand, ignored));
        continue;
      }
      auto ping = std::make_shared<pending_request>(strand_);
      ping->commands.push("PING");
      ping->expected = 1;
      ping->internal = true;
      enqueue(ping);
      ping->wake.expires_after(interval);
      co_await ping->wake.async_wait(asio::redirect_error(on_strand, ignored));
      if (!socket_.is_open()) co_return;
      if (!ping->done) {
        close_transport(make_error_code(error::health_check_failed),
                        "the health-check PING was not answered within " + millis(interval));
        co_return;
      }
    }
  }

  static strand_awaitable<void> run(std::shared_ptr<connection> self) {
    using namespace asio::experimental::awaitable_operators;
    while (!self->stopped_) {
      std::error_code ec = co_await self->connect_and_handshake();
      if (self->stopped_) break;
      if (ec) {
        boost::system::error_code ignored;
        self->socket_.close(ignored);
        if (ec == error::handshake_failed) {
          self->last_failure_ = "the server refused the handshake: " + self->handshake_refusal_;
          // A refused handshake is a configuration problem: fail waiting requests now instead of
          // letting them run into their deadlines; retries continue in the background.
          self->refused_ = true;
          self->fail_queued(ec, self->refusal_message());
        } else if (ec == error::tls_handshake_failed || ec == error::sentinel_unavailable ||
                   ec == error::not_master) {
          self->last_failure_ = self->connect_refusal_;
          self->fail_queued(ec, "cachet::redis: " + self->last_failure_ + "; " +
                                    (ec == error::tls_handshake_failed
                                         ? "check config.tls (ca_file, cert_file, key_file, sni)"
                                         : "check config.sentinel and the sentinels' state"));
        } else {
          self->last_failure_ = "connecting to " + self->target_ + " failed: " + ec.message();
          // The requests waited for this attempt: waiting for the next one could outlast their
          // deadlines, so they fail now (the breaker counts it) and the caller goes on.
          self->fail_queued(make_error_code(error::not_connected),
                            "cachet::redis: " + self->last_failure_ +
                                "; no connection to send the request on (check that the server "
                                "runs, and config.host and port)");
        }
        self->set_last_error(self->last_failure_);
      } else {
        self->backoff_.reset();
        self->refused_ = false;
        self->connected_ = true;
        self->set_last_error({});
        self->last_read_ = clock::now();
        if (self->on_connected) self->on_connected();
        try {
          co_await (self->reader_loop() || self->writer_loop() || self->health_loop());
        } catch (const std::exception&) {
          // The loops report failures by closing the transport; nothing else can be thrown.
        }
        self->connected_ = false;
        if (self->on_disconnected) self->on_disconnected();
        self->close_transport(make_error_code(error::connection_lost), "the connection dropped");
        self->set_last_error(self->last_failure_);
        self->fail_in_flight(self->last_failure_);
      }
      if (self->stopped_) break;
      self->retry_timer_.expires_after(self->backoff_.next());
      boost::system::error_code ignored;
      self->backing_off_ = true;
      co_await self->retry_timer_.async_wait(asio::redirect_error(on_strand, ignored));
      self->backing_off_ = false;
    }
    self->running_ = false;
    self->fail_all(error::connection_lost, "the client was closed before the request was written");
  }

  config cfg_;
  strand_type strand_;
  transport socket_;  // the TCP socket, or TLS over it
  asio::ip::tcp::resolver resolver_;
  asio::steady_timer writer_wake_;
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

#endif
