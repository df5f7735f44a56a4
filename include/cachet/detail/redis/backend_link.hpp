#ifndef CACHET_DETAIL_REDIS_BACKEND_LINK_HPP
#define CACHET_DETAIL_REDIS_BACKEND_LINK_HPP

// How a Redis backend reaches Redis: one server (or a Sentinel group, or TLS) through one
// pipelined resp3::client, or a Redis Cluster through a resp3::cluster_client. The config picks
// one at run time (cluster seeds or not), so the store is one class for both and compiled once;
// every request of the backend names the key that routes it, which one server ignores.

#include <cachet/error.hpp>
#include <cachet/redis/client.hpp>
#include <cachet/redis/cluster_client.hpp>
#include <cachet/redis/config.hpp>
#include <cachet/redis/error.hpp>
#include <cachet/redis/request.hpp>
#include <cachet/redis/resp3.hpp>
#include <cachet/redis/script.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace cachet::detail {

// One call of a Lua script. Its first key routes it: a script's keys share a slot on a cluster.
struct script_call {
  std::vector<std::string> keys;
  std::vector<std::string> args;
};

class backend_link {
 public:
  backend_link(boost::asio::any_io_executor ex, resp3::config cfg) {
    if (cfg.cluster.seeds.empty()) {
      own_server_.emplace(std::move(ex), std::move(cfg));
      server_ = &*own_server_;
      server_->start();
    } else {
      for (const auto& seed : cfg.cluster.seeds) {
        seeds_ += (seeds_.empty() ? "" : ",") + seed.host + ":" + std::to_string(seed.port);
      }
      cluster_.emplace(std::move(ex), std::move(cfg));
    }
  }

  /// A link through `server`, which its owner starts and closes: a blocking caller's lane.
  explicit backend_link(resp3::client& server) noexcept : server_(&server) {}

  backend_link(const backend_link&) = delete;
  backend_link& operator=(const backend_link&) = delete;

  bool is_cluster() const noexcept { return cluster_.has_value(); }

  /// The one-server client; null on a cluster.
  resp3::client* server() noexcept { return server_; }
  /// The cluster client; null on one server.
  resp3::cluster_client* cluster() noexcept { return cluster_ ? &*cluster_ : nullptr; }

  /// Ends every connection, so that the I/O thread's run() returns. On the thread that owns the
  /// backend, after the last use.
  void close() {
    if (server_) server_->close();
    cluster_.reset();
  }

  /// Where it connects, for messages: "host:port", or the cluster's seeds.
  std::string describe() const {
    if (server_) {
      return server_->get_config().host + ":" + std::to_string(server_->get_config().port);
    }
    return "the Redis Cluster of seeds " + seeds_;
  }

  /// Why Redis last failed, in words; empty while it works. On a cluster, the last failed
  /// request's reason (cluster_client keeps no per-node reason), cleared by the next success.
  std::string last_error() const {
    if (server_) return server_->last_error();
    std::lock_guard lock(last_error_mutex_);
    return last_error_;
  }

  /// Runs `commands`, one pipeline on one server; on a cluster, one pipeline per node, the nodes
  /// in parallel. Replies in the order of the commands, error replies as values; a transport or
  /// routing failure throws.
  boost::asio::awaitable<std::vector<resp3::value>> exec_many(
      std::vector<resp3::cluster_command> commands, resp3::request_options options = {}) {
    if (server_) {
      resp3::request pipeline;
      for (const resp3::cluster_command& c : commands) {
        pipeline.push(c.args.front(), std::span<const std::string>(c.args).subspan(1));
      }
      co_return co_await server_->exec(pipeline, options);
    }
    co_return co_await tracked(cluster_->exec_many(std::move(commands), options));
  }

  /// One pipeline (per node) of `calls` by EVALSHA. Those the server has no script for yet
  /// (NOSCRIPT, so they did not run) go again by EVAL, which also caches the script there.
  boost::asio::awaitable<std::vector<resp3::value>> eval_many(const resp3::script& script,
                                                              const std::vector<script_call>& calls,
                                                              resp3::request_options options = {}) {
    std::vector<resp3::value> replies;
    if (server_) {
      resp3::request pipeline;
      for (const script_call& c : calls) {
        pipeline.push("EVALSHA", script.sha1(), c.keys.size(), c.keys, c.args);
      }
      replies = co_await server_->exec(pipeline, options);
    } else {
      std::vector<resp3::cluster_command> commands;
      commands.reserve(calls.size());
      for (const script_call& c : calls)
        commands.push_back(script_command(script.sha1(), "EVALSHA", c));
      replies = co_await tracked(cluster_->exec_many(std::move(commands), options));
    }
    if (replies.size() != calls.size()) {
      throw resp3::request_error(resp3::error::unexpected_reply,
                                 "cachet::redis: a pipeline of scripts got the wrong number of "
                                 "replies");
    }
    std::vector<std::size_t> unknown;
    for (std::size_t i = 0; i < calls.size(); ++i) {
      if (replies[i].is_error() && replies[i].text.starts_with("NOSCRIPT")) unknown.push_back(i);
    }
    if (unknown.empty()) co_return replies;
    std::vector<resp3::value> retried;
    if (server_) {
      resp3::request again;
      for (std::size_t i : unknown) {
        again.push("EVAL", script.source(), calls[i].keys.size(), calls[i].keys, calls[i].args);
      }
      retried = co_await server_->exec(again, options);
    } else {
      std::vector<resp3::cluster_command> again;
      for (std::size_t i : unknown)
        again.push_back(script_command(script.source(), "EVAL", calls[i]));
      retried = co_await tracked(cluster_->exec_many(std::move(again), options));
    }
    for (std::size_t k = 0; k < unknown.size() && k < retried.size(); ++k) {
      replies[unknown[k]] = std::move(retried[k]);
    }
    co_return replies;
  }

  /// One script call; an error reply throws server_error.
  boost::asio::awaitable<resp3::value> eval(const resp3::script& script, script_call call,
                                            resp3::request_options options = {}) {
    if (server_) co_return co_await script.exec(*server_, call.keys, call.args, options);
    std::vector<script_call> calls;
    calls.push_back(std::move(call));
    std::vector<resp3::value> replies = co_await eval_many(script, calls, options);
    if (replies.front().is_error()) throw resp3::server_error(std::move(replies.front().text));
    co_return std::move(replies.front());
  }

 private:
  static resp3::cluster_command script_command(const std::string& script_text, const char* verb,
                                               const script_call& c) {
    resp3::cluster_command command{c.keys.front(), {}};
    command.args.reserve(3 + c.keys.size() + c.args.size());
    command.args.emplace_back(verb);
    command.args.push_back(script_text);
    command.args.push_back(std::to_string(c.keys.size()));
    command.args.insert(command.args.end(), c.keys.begin(), c.keys.end());
    command.args.insert(command.args.end(), c.args.begin(), c.args.end());
    return command;
  }

  // Keeps the reason of the cluster's last failure for last_error().
  boost::asio::awaitable<std::vector<resp3::value>> tracked(
      boost::asio::awaitable<std::vector<resp3::value>> request) {
    std::exception_ptr failure;
    std::vector<resp3::value> replies;
    try {
      replies = co_await std::move(request);
    } catch (const std::exception& e) {
      failure = std::current_exception();
      std::lock_guard lock(last_error_mutex_);
      last_error_ = e.what();
      failed_.store(true, std::memory_order_relaxed);
    }
    if (failure) std::rethrow_exception(failure);
    // A hit must not take a lock that every other hit takes too: only a success after a
    // failure does.
    if (failed_.load(std::memory_order_relaxed)) {
      std::lock_guard lock(last_error_mutex_);
      last_error_.clear();
      failed_.store(false, std::memory_order_relaxed);
    }
    co_return replies;
  }

  std::optional<resp3::client> own_server_;
  resp3::client* server_ = nullptr;  // own_server_'s, or one lent to it
  std::optional<resp3::cluster_client> cluster_;
  std::string seeds_;  // for describe()
  mutable std::mutex last_error_mutex_;
  std::string last_error_;
  std::atomic<bool> failed_{false};  // last_error_ is not empty
};

}  // namespace cachet::detail

#endif
