#ifndef CACHET_DETAIL_TIERED_IMPL_COHERENCE_IPP
#define CACHET_DETAIL_TIERED_IMPL_COHERENCE_IPP

// Bodies of <cachet/detail/tiered/coherence.hpp>; see <cachet/detail/linkage.hpp>.

#include <cachet/detail/tiered/coherence.hpp>

namespace cachet::detail {

CACHET_DECL void tier_coherence::confirmed() {
  {
    std::lock_guard lock(m_);
    serving_.store(true, std::memory_order_release);
  }
  serving_changed_.notify_all();
}

CACHET_DECL void tier_coherence::lost() {
  serving_.store(false, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  std::lock_guard lock(m_);
  for (near_tier* t : tiers_) t->drop_all();
  flushes_.fetch_add(1, std::memory_order_acq_rel);
}

CACHET_DECL void tier_coherence::apply(resp3::value&& push) {
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

CACHET_DECL void tier_coherence::drop_key(std::string_view key) {
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

CACHET_DECL invalidation_channel::invalidation_channel(resp3::config cfg,
                                                       std::shared_ptr<tier_coherence> state)
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

CACHET_DECL void invalidation_channel::sync(std::chrono::milliseconds timeout) {
  auto ping = [](std::shared_ptr<resp3::detail::connection> c,
                 std::chrono::milliseconds t) -> resp3::detail::strand_awaitable<void> {
    auto p = std::make_shared<resp3::detail::pending_request>(c->strand());
    p->commands.push("PING");
    p->expected = 1;
    co_await resp3::detail::connection::submit(c, p, t);
  };
  boost::asio::co_spawn(conn_->strand(), ping(conn_, timeout), boost::asio::use_future).get();
}

CACHET_DECL invalidation_channel::~invalidation_channel() {
  boost::asio::dispatch(conn_->strand(), [c = conn_] { c->stop(); });
  work_.reset();
  thread_.join();
}

CACHET_DECL resp3::detail::strand_awaitable<void> invalidation_channel::confirm(
    std::shared_ptr<resp3::detail::pending_request> p, std::shared_ptr<tier_coherence> state) {
  while (!p->done) {
    p->wake.expires_at(resp3::detail::clock::time_point::max());
    boost::system::error_code ignored;
    co_await p->wake.async_wait(boost::asio::redirect_error(resp3::detail::on_strand, ignored));
  }
  if (!p->ec && !p->replies.empty() && !p->replies.front().is_error()) state->confirmed();
}

}  // namespace cachet::detail

#endif
