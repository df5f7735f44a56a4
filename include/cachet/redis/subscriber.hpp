#ifndef CACHET_REDIS_SUBSCRIBER_HPP
#define CACHET_REDIS_SUBSCRIBER_HPP

#include <cachet/detail/linkage.hpp>
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
  CACHET_DECL subscriber_state(const asio::any_io_executor& ex, std::size_t wanted_capacity);

  std::set<std::string> channels;  // wanted: replayed after every reconnect
  std::set<std::string> patterns;
  std::deque<message> queue;
  std::size_t capacity;
  std::size_t dropped = 0;  // since the last queue_full report
  bool closed = false;
  asio::steady_timer wake;  // receivers sleep on it; cancel() wakes them

  CACHET_DECL void deliver(value&& push);
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
  CACHET_DECL subscriber(boost::asio::any_io_executor ex, config cfg, std::size_t capacity = 1024);

  subscriber(const subscriber&) = delete;
  subscriber& operator=(const subscriber&) = delete;

  /// Stops (see close()).
  ~subscriber() { close(); }

  /// Closes the connection for good; pending and later receive() calls throw
  /// request_error(not_connected).
  CACHET_DECL void close();

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
  CACHET_DECL boost::asio::awaitable<message> receive();

 private:
  CACHET_DECL boost::asio::awaitable<void> change(const char* command,
                                                  std::vector<std::string> names, bool add,
                                                  bool patterns);

  CACHET_DECL static detail::strand_awaitable<void> change_on_strand(
      std::shared_ptr<detail::connection> conn, std::shared_ptr<detail::subscriber_state> state,
      const char* command, std::vector<std::string> names, bool add, bool patterns);

  CACHET_DECL static detail::strand_awaitable<message> receive_on_strand(
      std::shared_ptr<detail::subscriber_state> state);

  std::shared_ptr<detail::connection> conn_;
  std::shared_ptr<detail::subscriber_state> state_;
};

}  // namespace cachet::resp3

#if CACHET_INCLUDE_BODIES
#include <cachet/redis/impl/subscriber.ipp>
#endif

#endif
