#ifndef CACHET_REDIS_IMPL_SUBSCRIBER_IPP
#define CACHET_REDIS_IMPL_SUBSCRIBER_IPP

// Bodies of <cachet/redis/subscriber.hpp>; see <cachet/detail/linkage.hpp>.

#include <cachet/redis/subscriber.hpp>

namespace cachet::resp3 {

namespace detail {

CACHET_DECL subscriber_state::subscriber_state(const asio::any_io_executor& ex,
                                               std::size_t wanted_capacity)
    : capacity(wanted_capacity == 0 ? 1 : wanted_capacity), wake(ex, clock::time_point::max()) {}

CACHET_DECL void subscriber_state::deliver(value&& push) {
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

}  // namespace detail

CACHET_DECL subscriber::subscriber(boost::asio::any_io_executor ex, config cfg,
                                   std::size_t capacity)
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

CACHET_DECL void subscriber::close() {
  boost::asio::dispatch(conn_->strand(), [c = conn_, s = state_] {
    s->closed = true;
    s->wake.cancel();
    c->stop();
  });
}

CACHET_DECL boost::asio::awaitable<message> subscriber::receive() {
  return boost::asio::co_spawn(conn_->strand(), receive_on_strand(state_),
                               boost::asio::use_awaitable);
}

CACHET_DECL boost::asio::awaitable<void> subscriber::change(const char* command,
                                                            std::vector<std::string> names,
                                                            bool add, bool patterns) {
  return boost::asio::co_spawn(
      conn_->strand(), change_on_strand(conn_, state_, command, std::move(names), add, patterns),
      boost::asio::use_awaitable);
}

CACHET_DECL detail::strand_awaitable<void> subscriber::change_on_strand(
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

CACHET_DECL detail::strand_awaitable<message> subscriber::receive_on_strand(
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

}  // namespace cachet::resp3

#endif
