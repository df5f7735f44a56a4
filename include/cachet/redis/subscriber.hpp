#ifndef CACHET_REDIS_SUBSCRIBER_HPP
#define CACHET_REDIS_SUBSCRIBER_HPP

#include <cachet/detail/redis/connection.hpp>
#include <cachet/redis/config.hpp>
#include <cachet/redis/error.hpp>
#include <cachet/redis/request.hpp>
#include <cachet/redis/resp3.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstddef>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cachet::resp3 {

/// One pub/sub message.
struct message {
  std::string channel;  ///< the channel it was published to
  std::string payload;  ///< what was published
  std::string pattern;  ///< the matching pattern for PSUBSCRIBE deliveries, else empty
};

namespace detail {

// Lives on the connection's strand; shared by the subscriber, its connection's push handler and
// pending receive() calls.
struct subscriber_state {
  subscriber_state(const asio::any_io_executor& ex, std::size_t wanted_capacity)
      : capacity(wanted_capacity == 0 ? 1 : wanted_capacity), wake(ex, clock::time_point::max()) {}

  std::set<std::string> channels;  // wanted: replayed after every reconnect
  std::set<std::string> patterns;
  std::deque<message> queue;
  std::size_t capacity;
  std::size_t dropped = 0;  // since the last queue_full report
  bool closed = false;
  asio::steady_timer wake;  // receivers sleep on it; cancel() wakes them

  void deliver(value&& push) {
    auto& e = push.elements;
    if (e.empty() || !e[0].is_string()) return;
    const std::string& kind = e[0].text;
    message m;
    if ((kind == "message" || kind == "smessage") && e.size() == 3) {
      m.channel = std::move(e[1].text);
      m.payload = std::move(e[2].text);
    } else if (kind == "pmessage" && e.size() == 4) {
      m.pattern = std::move(e[1].text);
      m.channel = std::move(e[2].text);
      m.payload = std::move(e[3].text);
    } else {
      return;  // (un)subscribe confirmations and other pushes carry no message
    }
    if (queue.size() == capacity) {
      queue.pop_front();
      ++dropped;
    }
    queue.push_back(std::move(m));
    wake.cancel();
  }
};

}  // namespace detail

/// A pub/sub connection of its own: subscribe to channels and patterns, then receive() messages.
///
///   cachet::redis::subscriber sub(io.get_executor(), cfg);
///   co_await sub.subscribe("news");  // or a std::vector<std::string> of channels
///   for (;;) { cachet::redis::message m = co_await sub.receive(); ... }
///
/// Subscriptions are replayed after every reconnect; messages published while disconnected are
/// lost (that is Redis pub/sub). Received messages wait in a bounded queue (`capacity`); when it
/// is full the OLDEST message is dropped, and the next receive() throws request_error with
/// error::queue_full saying how many were dropped, then carries on with the queued messages.
/// Lifetime and threading as for cachet::redis::client. A channel the server refuses (ACL
/// NOPERM) makes subscribe() throw server_error and is not replayed.
class subscriber {
 public:
  /// Creates the subscriber; it connects on the first subscribe().
  subscriber(boost::asio::any_io_executor ex, config cfg, std::size_t capacity = 1024)
      : conn_(std::make_shared<detail::connection>(ex, std::move(cfg))),
        state_(std::make_shared<detail::subscriber_state>(conn_->strand(), capacity)) {
    auto* conn = conn_.get();  // the hooks live inside the connection: no ownership cycle
    conn_->on_push = [state = state_](value&& push) { state->deliver(std::move(push)); };
    conn_->on_connected = [conn, state = state_] {
      request replay;
      if (!state->channels.empty()) replay.push("SUBSCRIBE", state->channels);
      if (!state->patterns.empty()) replay.push("PSUBSCRIBE", state->patterns);
      if (replay.size() == 0) return;
      auto p = std::make_shared<detail::pending_request>(conn->strand());
      p->commands = std::move(replay);
      p->expected = 0;  // confirmations arrive as pushes
      p->internal = true;
      conn->enqueue_front(p);
    };
  }

  subscriber(const subscriber&) = delete;
  subscriber& operator=(const subscriber&) = delete;

  /// Stops (see close()).
  ~subscriber() { close(); }

  /// Closes the connection for good; pending and later receive() calls throw
  /// request_error(not_connected).
  void close() {
    boost::asio::dispatch(conn_->strand(), [c = conn_, s = state_] {
      s->closed = true;
      s->wake.cancel();
      c->stop();
    });
  }

  /// SUBSCRIBE; completes once the server has confirmed every channel.
  boost::asio::awaitable<void> subscribe(std::vector<std::string> channels) {
    return change("SUBSCRIBE", std::move(channels), true, false);
  }
  /// PSUBSCRIBE (glob-style patterns); completes once confirmed.
  boost::asio::awaitable<void> psubscribe(std::vector<std::string> patterns) {
    return change("PSUBSCRIBE", std::move(patterns), true, true);
  }
  /// UNSUBSCRIBE; completes once confirmed (messages already queued stay queued).
  boost::asio::awaitable<void> unsubscribe(std::vector<std::string> channels) {
    return change("UNSUBSCRIBE", std::move(channels), false, false);
  }
  /// PUNSUBSCRIBE; completes once confirmed.
  boost::asio::awaitable<void> punsubscribe(std::vector<std::string> patterns) {
    return change("PUNSUBSCRIBE", std::move(patterns), false, true);
  }

  /// One-name forms of the above (g++ 12 rejects braced lists inside co_await expressions).
  boost::asio::awaitable<void> subscribe(std::string_view channel) {
    return subscribe(std::vector<std::string>{std::string(channel)});
  }
  boost::asio::awaitable<void> psubscribe(std::string_view pattern) {
    return psubscribe(std::vector<std::string>{std::string(pattern)});
  }
  boost::asio::awaitable<void> unsubscribe(std::string_view channel) {
    return unsubscribe(std::vector<std::string>{std::string(channel)});
  }
  boost::asio::awaitable<void> punsubscribe(std::string_view pattern) {
    return punsubscribe(std::vector<std::string>{std::string(pattern)});
  }

  /// The next message, waiting as long as it takes (cancellable through the awaiting
  /// coroutine's cancellation slot: throws request_error(cancelled)). After an overflow, throws
  /// request_error(queue_full) once; the following calls return the queued messages.
  boost::asio::awaitable<message> receive() {
    return boost::asio::co_spawn(conn_->strand(), receive_on_strand(state_),
                                 boost::asio::use_awaitable);
  }

 private:
  boost::asio::awaitable<void> change(const char* command, std::vector<std::string> names, bool add,
                                      bool patterns) {
    return boost::asio::co_spawn(
        conn_->strand(), change_on_strand(conn_, state_, command, std::move(names), add, patterns),
        boost::asio::use_awaitable);
  }

  static detail::strand_awaitable<void> change_on_strand(
      std::shared_ptr<detail::connection> conn, std::shared_ptr<detail::subscriber_state> state,
      const char* command, std::vector<std::string> names, bool add, bool patterns) {
    if (names.empty()) co_return;
    auto& wanted = patterns ? state->patterns : state->channels;
    // Recorded first, so that a reconnect while this is in flight replays it.
    for (auto& n : names) {
      if (add) {
        wanted.insert(n);
      } else {
        wanted.erase(n);
      }
    }
    // The confirmations are pushes; the PING after them is the one reply that completes the
    // request, and it arrives only after every confirmation was delivered.
    request r;
    r.push(command, names);
    r.push("PING");
    auto p = std::make_shared<detail::pending_request>(conn->strand());
    p->commands = std::move(r);
    p->expected = 1;
    p->idempotent = true;  // (un)subscribing twice is harmless
    co_await detail::connection::submit(conn, p, conn->cfg().request_timeout);
    if (p->replies.front().is_error()) {
      if (add)
        for (auto& n : names) wanted.erase(n);
      throw server_error(p->replies.front().text);
    }
  }

  static detail::strand_awaitable<message> receive_on_strand(
      std::shared_ptr<detail::subscriber_state> state) {
    namespace asio = boost::asio;
    co_await asio::this_coro::throw_if_cancelled(false);
    for (;;) {
      if (state->dropped > 0) {
        auto n = state->dropped;
        state->dropped = 0;
        throw request_error(error::queue_full,
                            "cachet::redis::subscriber: the receive queue was full; " +
                                std::to_string(n) +
                                " oldest message(s) were dropped; call receive() more often or "
                                "raise the subscriber's capacity");
      }
      if (!state->queue.empty()) {
        message m = std::move(state->queue.front());
        state->queue.pop_front();
        co_return m;
      }
      if (state->closed)
        throw request_error(error::not_connected,
                            "cachet::redis::subscriber: closed; create a new subscriber");
      auto cs = co_await asio::this_coro::cancellation_state;
      if (cs.cancelled() != asio::cancellation_type::none)
        throw request_error(error::cancelled, "cachet::redis::subscriber: receive() cancelled");
      state->wake.expires_at(detail::clock::time_point::max());
      boost::system::error_code ignored;
      co_await state->wake.async_wait(asio::redirect_error(detail::on_strand, ignored));
    }
  }

  std::shared_ptr<detail::connection> conn_;
  std::shared_ptr<detail::subscriber_state> state_;
};

}  // namespace cachet::resp3

#endif
