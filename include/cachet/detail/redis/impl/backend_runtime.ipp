#ifndef CACHET_DETAIL_REDIS_IMPL_BACKEND_RUNTIME_IPP
#define CACHET_DETAIL_REDIS_IMPL_BACKEND_RUNTIME_IPP

// Bodies of <cachet/detail/redis/backend_runtime.hpp>; see <cachet/detail/linkage.hpp>.

#include <cachet/detail/redis/backend_runtime.hpp>

#include <cstdio>
#include <future>
#include <random>

namespace cachet::detail {

CACHET_DECL redis_runtime::redis_runtime(resp3::config cfg, key_layout layout,
                                         redis_backend_breaker::settings breaker,
                                         std::size_t max_pending_deletes,
                                         boost::asio::io_context* app_context)
    : breaker_(std::move(breaker)),
      work_(boost::asio::make_work_guard(io_)),
      link_(io_.get_executor(), cfg),
      layout_(std::move(layout)),
      token_origin_(random_origin()),
      backlog_(max_pending_deletes),
      app_context_(app_context) {
  if (app_context_ != nullptr) app_link_.emplace(app_context_->get_executor(), std::move(cfg));
  if (resp3::client* server = link_.server()) {
    server->on_connected([this] { handshakes_.fetch_add(1, std::memory_order_release); });
  }
  thread_ = std::thread([this] { io_.run(); });
}

struct redis_runtime::io_promise {
  std::promise<void> promise;
};

struct redis_runtime::io_future {
  std::future<void> future;
};

CACHET_DECL redis_runtime::io_wait redis_runtime::make_io_wait() {
  auto promise = std::make_shared<io_promise>();
  auto future = std::make_shared<io_future>(io_future{promise->promise.get_future()});
  return {std::move(promise), std::move(future)};
}

CACHET_DECL void redis_runtime::fulfil(io_promise& p, std::exception_ptr e) {
  e ? p.promise.set_exception(e) : p.promise.set_value();
}

CACHET_DECL void redis_runtime::wait_for(io_future& f) { f.future.get(); }

CACHET_DECL redis_runtime::~redis_runtime() {
  idle_lanes_.clear();                // while the I/O thread runs: a lane's last turn may need it
  if (app_link_) app_link_->close();  // finishes when the application's io_context next runs
  link_.close();
  work_.reset();
  thread_.join();
}

CACHET_DECL std::string redis_runtime::last_error() const {
  std::string why = link_.last_error();
  if (!why.empty()) return why;
  if (app_link_) {
    why = app_link_->last_error();
    if (!why.empty()) return why;
  }
  std::lock_guard lock(lanes_mutex_);
  return lane_error_;
}

CACHET_DECL backend_link& redis_runtime::link() noexcept {
  lane* driven = driven_lane_;
  if (driven != nullptr && driven->owner == this) return driven->link;
  if (serves_this_thread()) return *app_link_;
  return link_;
}

CACHET_DECL resp3::client& redis_runtime::client() {
  if (resp3::client* c = link().server()) return *c;
  throw cachet::error(
      "cachet::redis: the backend is on a Redis Cluster, which has no single connection; use "
      "cluster_connection() for commands of your own");
}

CACHET_DECL std::string redis_runtime::fresh_token() {
  const std::uint64_t n = tokens_made_.fetch_add(1, std::memory_order_relaxed);
  char count[17];
  const int length = std::snprintf(count, sizeof count, "%llx", static_cast<unsigned long long>(n));
  std::string token = token_origin_;
  token.append(count, static_cast<std::size_t>(length));
  return token;
}

CACHET_DECL void redis_runtime::require_off_io_thread(std::string_view what) const {
  if (on_io_thread()) {
    throw resp3::request_error(
        resp3::error::blocking_call_on_io_thread,
        "cachet::redis: " + std::string(what) +
            " blocks, and was called on the Redis backend's own I/O thread, where it would wait "
            "for itself forever; from coroutines running there, co_await the async form "
            "(cached::async, redis::async_invalidate_tag)");
  }
}

CACHET_DECL boost::asio::awaitable<void> redis_runtime::delete_entry(std::string key,
                                                                     std::string function_key) {
  if (!on_io_thread()) co_return co_await on_io(delete_entry(std::move(key), function_key));
  co_await invalidation(true, std::move(key), std::move(function_key));
}

CACHET_DECL boost::asio::awaitable<void> redis_runtime::bump_generation(std::string counter) {
  if (!on_io_thread()) co_return co_await on_io(bump_generation(std::move(counter)));
  std::vector<std::string> keys;
  keys.reserve(layout_.size());
  for (const key_bucket& b : layout_.buckets()) keys.push_back(b.counter_base + counter);
  co_await bump_counters(std::move(keys));
}

CACHET_DECL boost::asio::awaitable<std::exception_ptr> redis_runtime::confirm_invalidations() {
  if (!on_io_thread()) co_return co_await on_io(confirm_invalidations());
  while (backlog_.size() > 0) {
    std::shared_ptr<replay_round> round = replaying_;
    if (round) {
      if (!round->finished) {
        boost::system::error_code ignored;  // cancelled when the round ends
        co_await round->done.async_wait(
            boost::asio::redirect_error(boost::asio::use_awaitable, ignored));
      }
    } else {
      round = std::make_shared<replay_round>(io_.get_executor());
      replaying_ = round;
      round->failure = co_await replay();
      round->finished = true;
      replaying_.reset();
      round->done.cancel();
    }
    if (round->failure) co_return round->failure;
  }
  co_return nullptr;
}

CACHET_DECL boost::asio::awaitable<void> redis_runtime::replay_invalidations() {
  if (!on_io_thread()) co_return co_await on_io(replay_invalidations());
  if (backlog_.size() == 0) co_return;
  redis_backend_breaker::ticket ticket = breaker_.bypass();
  if (std::exception_ptr failure = co_await confirm_invalidations()) {
    ticket.report(failure);
    std::rethrow_exception(failure);
  }
  ticket.answered();
}

CACHET_DECL redis_runtime::lane::lane(redis_runtime* o, const resp3::config& cfg,
                                      std::uint64_t handshakes_before)
    : owner(o), made_after(handshakes_before), client(io.get_executor(), cfg), link(client) {
  // One caller at a time drives a lane, and nothing else runs on its io_context.
  client.write_when_idle(true);
  client.caller_reads(true);
}

CACHET_DECL redis_runtime::lane::~lane() {
  client.close();
  io.restart();
  io.run();
}

CACHET_DECL auto redis_runtime::take_lane() -> lane_lease {
  if (link_.is_cluster()) return lane_lease(this, nullptr);
  const std::uint64_t handshakes = handshakes_.load(std::memory_order_acquire);
  std::unique_ptr<lane> replaced;
  {
    std::lock_guard lock(lanes_mutex_);
    if (!idle_lanes_.empty()) {
      std::unique_ptr<lane> l = std::move(idle_lanes_.back());
      idle_lanes_.pop_back();
      if (l->made_after == handshakes) return lane_lease(this, std::move(l));
      replaced = std::move(l);
    } else if (lanes_made_ == max_lanes) {
      return lane_lease(this, nullptr);
    } else {
      ++lanes_made_;
    }
  }
  replaced.reset();
  return lane_lease(this, std::make_unique<lane>(this, link_.server()->get_config(), handshakes));
}

CACHET_DECL void redis_runtime::return_lane(std::unique_ptr<lane> l) {
  std::string why = l->client.last_error();
  std::lock_guard lock(lanes_mutex_);
  lane_error_ = std::move(why);
  idle_lanes_.push_back(std::move(l));
}

CACHET_DECL std::string redis_runtime::random_origin() {
  std::random_device entropy;
  char hex[33];
  std::snprintf(hex, sizeof hex, "%08x%08x%08x%08x", entropy(), entropy(), entropy(), entropy());
  return hex;
}

CACHET_DECL redis_runtime::replay_round::replay_round(boost::asio::io_context::executor_type ex)
    : done(ex, boost::asio::steady_timer::time_point::max()) {}

CACHET_DECL boost::asio::awaitable<void> redis_runtime::invalidation(bool is_delete,
                                                                     std::string key,
                                                                     std::string function_key) {
  if (!is_delete) {
    std::vector<std::string> keys;
    keys.push_back(std::move(key));
    co_await bump_counters(std::move(keys));
    co_return;
  }
  redis_backend_breaker::ticket ticket = breaker_.bypass();
  const std::uint64_t sent_at = backlog_.sequence();
  std::exception_ptr failure;
  try {
    std::vector<resp3::cluster_command> del;
    del.push_back({key, {"DEL", key}});
    throw_error_reply(co_await link_.exec_many(std::move(del)));
    ticket.answered();
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) {
    ticket.report(failure);
    backlog_.add_delete(std::move(key), function_key);
    pending_.store(backlog_.size(), std::memory_order_release);
    std::rethrow_exception(failure);
  }
  backlog_.applied(true, key, sent_at);
  pending_.store(backlog_.size(), std::memory_order_release);
}

CACHET_DECL boost::asio::awaitable<void> redis_runtime::bump_counters(
    std::vector<std::string> keys) {
  redis_backend_breaker::ticket ticket = breaker_.bypass();
  const std::uint64_t sent_at = backlog_.sequence();
  std::exception_ptr failure;
  try {
    std::vector<resp3::cluster_command> sets;
    sets.reserve(keys.size());
    for (const std::string& k : keys) sets.push_back({k, {"SET", k, fresh_token()}});
    throw_error_reply(co_await link_.exec_many(std::move(sets)));
    ticket.answered();
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) {
    ticket.report(failure);
    for (const std::string& k : keys) backlog_.add_bump(k);
    pending_.store(backlog_.size(), std::memory_order_release);
    std::rethrow_exception(failure);
  }
  for (const std::string& k : keys) backlog_.applied(false, k, sent_at);
  pending_.store(backlog_.size(), std::memory_order_release);
}

CACHET_DECL void redis_runtime::throw_error_reply(const std::vector<resp3::value>& replies) {
  for (const resp3::value& r : replies) {
    if (r.is_error()) throw resp3::server_error(r.text);
  }
}

CACHET_DECL boost::asio::awaitable<std::exception_ptr> redis_runtime::replay() {
  const std::vector<invalidation_backlog::command> commands = backlog_.commands();
  std::vector<resp3::cluster_command> pipeline;
  pipeline.reserve(commands.size());
  for (const auto& c : commands) {
    if (c.is_delete) {
      pipeline.push_back({c.key, {"DEL", c.key}});
    } else {
      pipeline.push_back({c.key, {"SET", c.key, fresh_token()}});
    }
  }
  std::exception_ptr failure;
  try {
    const std::vector<resp3::value> replies = co_await link_.exec_many(std::move(pipeline));
    for (std::size_t i = 0; i < commands.size() && i < replies.size(); ++i) {
      if (!replies[i].is_error()) {
        backlog_.confirmed(commands[i]);
      } else if (!failure) {
        failure = std::make_exception_ptr(resp3::server_error(replies[i].text));
      }
    }
  } catch (...) {
    failure = std::current_exception();
  }
  pending_.store(backlog_.size(), std::memory_order_release);
  co_return failure;
}

}  // namespace cachet::detail

#endif
