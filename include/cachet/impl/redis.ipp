#ifndef CACHET_IMPL_REDIS_IPP
#define CACHET_IMPL_REDIS_IPP

// Bodies of <cachet/redis.hpp>; see <cachet/detail/linkage.hpp>.

#include <cachet/redis.hpp>

namespace cachet {

CACHET_DECL redis::redis(config cfg, redis_options opts) : options_(std::move(opts)) {
  owned_ = make_runtime(std::move(cfg), options_);
  runtime_.store(owned_.get(), std::memory_order_release);
}

CACHET_DECL void redis::configure(config cfg, redis_options opts) {
  redis& s = shared();
  std::lock_guard lock(s.init_mutex_);
  if (s.runtime_.load(std::memory_order_acquire) != nullptr) {
    throw cachet::error(
        "cachet::redis::configure: the shared Redis backend is already in use, connected to " +
        s.owned_->link().describe() +
        "; call configure() at start-up, before the first cached call");
  }
  cfg.require_valid();  // these fail here rather than at the first cached call
  layout_for(cfg, opts);
  checked_breaker(opts.breaker);
  s.pending_ = std::move(cfg);
  s.options_ = std::move(opts);
}

CACHET_DECL void redis::invalidate_tag(std::string_view tag) {
  detail::redis_runtime& rt = runtime();
  rt.require_off_io_thread("invalidate_tag");
  rt.bump_tag_epoch();
  rt.run(rt.bump_generation("tag:" + std::string(tag)));
}

CACHET_DECL boost::asio::awaitable<void> redis::async_invalidate_tag(std::string tag) {
  detail::redis_runtime& rt = runtime();
  rt.bump_tag_epoch();
  co_await boost::asio::co_spawn(rt.context(), rt.bump_generation("tag:" + tag),
                                 boost::asio::use_awaitable);
}

CACHET_DECL void redis::replay_invalidations() {
  detail::redis_runtime& rt = runtime();
  rt.require_off_io_thread("replay_invalidations");
  rt.run(rt.replay_invalidations());
}

CACHET_DECL cachet::health redis::health() {
  detail::redis_runtime& rt = runtime();
  rt.require_off_io_thread("health");
  cachet::health h;
  const auto start = std::chrono::steady_clock::now();
  try {
    rt.run(ping_every_node(rt));
    h.round_trip = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::steady_clock::now() - start);
  } catch (const std::exception& e) {
    h.connected = false;
    h.last_error = rt.last_error();
    if (h.last_error.empty()) h.last_error = e.what();
  }
  h.breaker = rt.breaker().state();
  h.pending_invalidations = rt.pending_invalidations();
  return h;
}

CACHET_DECL void redis::verify() {
  detail::redis_runtime& rt = runtime();
  rt.require_off_io_thread("verify");
  rt.run(ping_every_node(rt));
}

CACHET_DECL redis::cluster_client& redis::cluster_connection() {
  if (cluster_client* c = runtime().link().cluster()) return *c;
  throw cachet::error(
      "cachet::redis::cluster_connection: the backend is on one server, not a Redis Cluster; "
      "use connection()");
}

CACHET_DECL detail::redis_runtime& redis::runtime() {
  if (auto* rt = runtime_.load(std::memory_order_acquire)) return *rt;
  std::lock_guard lock(init_mutex_);
  if (auto* rt = runtime_.load(std::memory_order_relaxed)) return *rt;
  if (!pending_) {
    if (!config_in_environment()) {
      throw cachet::error(
          "cachet::redis: the shared Redis backend has no server to connect to; call "
          "cachet::redis::configure(\"redis://host:port\") at start-up, set CACHET_REDIS_URL, "
          "or give the cached function a cachet::redis object");
    }
    pending_ = config::from_env();
  }
  owned_ = make_runtime(std::move(*pending_), options_);
  pending_.reset();
  runtime_.store(owned_.get(), std::memory_order_release);
  return *owned_;
}

CACHET_DECL detail::key_layout redis::layout_for(const config& cfg, const redis_options& opts) {
  if (cfg.cluster.seeds.empty()) {
    return detail::key_layout::one_server(opts.key_prefix, opts.schema_version);
  }
  return detail::key_layout::cluster(opts.key_prefix, opts.schema_version, opts.cluster_buckets);
}

CACHET_DECL boost::asio::awaitable<void> redis::ping_every_node(detail::redis_runtime& rt) {
  std::vector<resp3::cluster_command> pings;
  for (const detail::key_bucket& b : rt.layout().buckets()) {
    pings.push_back({b.entry_base, {"PING"}});
  }
  const std::vector<value> replies = co_await rt.link().exec_many(std::move(pings));
  for (const value& reply : replies) {
    if (reply.is_error()) throw server_error(reply.text);
  }
}

CACHET_DECL detail::redis_backend_breaker::settings redis::checked_breaker(
    const redis_options::breaker_options& b) {
  if (b.half_open_probes == 0) {
    throw cachet::error(
        "cachet::redis: breaker.half_open_probes is 0, so the backend's breaker could never "
        "close again; allow at least 1 probe");
  }
  if (b.cooldown.count() < 0) {
    throw cachet::error(
        "cachet::redis: breaker.cooldown is negative; give a duration of 0 or more");
  }
  return {.consecutive_failures = b.consecutive_failures,
          .cooldown = b.cooldown,
          .half_open_probes = b.half_open_probes,
          .time = b.clock,
          .on_state_change = b.on_state_change};
}

CACHET_DECL std::unique_ptr<detail::redis_runtime> redis::make_runtime(config cfg,
                                                                       const redis_options& opts) {
  detail::key_layout layout = layout_for(cfg, opts);
  return std::make_unique<detail::redis_runtime>(
      std::move(cfg), std::move(layout), checked_breaker(opts.breaker),
      opts.max_pending_key_invalidations, opts.async_context);
}

CACHET_DECL boost::asio::awaitable<void> detail::backoff_timers<redis>::wait(
    std::chrono::nanoseconds delay) {
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, delay);
  co_await timer.async_wait(boost::asio::use_awaitable);
}

}  // namespace cachet

#endif
