#ifndef CACHET_DETAIL_REDIS_IMPL_BACKEND_LINK_IPP
#define CACHET_DETAIL_REDIS_IMPL_BACKEND_LINK_IPP

// Bodies of <cachet/detail/redis/backend_link.hpp>; see <cachet/detail/linkage.hpp>.

#include <cachet/detail/redis/backend_link.hpp>

namespace cachet::detail {

CACHET_DECL backend_link::backend_link(boost::asio::any_io_executor ex, resp3::config cfg) {
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

CACHET_DECL void backend_link::close() {
  if (server_) server_->close();
  cluster_.reset();
}

CACHET_DECL std::string backend_link::describe() const {
  if (server_) {
    return server_->get_config().host + ":" + std::to_string(server_->get_config().port);
  }
  return "the Redis Cluster of seeds " + seeds_;
}

CACHET_DECL std::string backend_link::last_error() const {
  if (server_) return server_->last_error();
  std::lock_guard lock(last_error_mutex_);
  return last_error_;
}

CACHET_DECL boost::asio::awaitable<std::vector<resp3::value>> backend_link::exec_many(
    std::vector<resp3::cluster_command> commands, resp3::request_options options) {
  if (server_) {
    resp3::request pipeline;
    for (const resp3::cluster_command& c : commands) {
      pipeline.push(c.args.front(), std::span<const std::string>(c.args).subspan(1));
    }
    co_return co_await server_->exec(std::move(pipeline), options);
  }
  co_return co_await tracked(cluster_->exec_many(std::move(commands), options));
}

CACHET_DECL boost::asio::awaitable<std::vector<resp3::value>> backend_link::eval_many(
    const resp3::script& script, const std::vector<script_call>& calls,
    resp3::request_options options) {
  std::vector<resp3::value> replies;
  if (server_) {
    resp3::request pipeline;
    for (const script_call& c : calls) {
      pipeline.push("EVALSHA", script.sha1(), c.keys.size(), c.keys, c.args);
    }
    replies = co_await server_->exec(std::move(pipeline), options);
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
    retried = co_await server_->exec(std::move(again), options);
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

CACHET_DECL boost::asio::awaitable<resp3::value> backend_link::eval(
    const resp3::script& script, script_call call, resp3::request_options options) {
  if (server_) co_return co_await script.exec(*server_, call.keys, call.args, options);
  std::vector<script_call> calls;
  calls.push_back(std::move(call));
  std::vector<resp3::value> replies = co_await eval_many(script, calls, options);
  if (replies.front().is_error()) throw resp3::server_error(std::move(replies.front().text));
  co_return std::move(replies.front());
}

CACHET_DECL resp3::cluster_command backend_link::script_command(const std::string& script_text,
                                                                const char* verb,
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

CACHET_DECL boost::asio::awaitable<std::vector<resp3::value>> backend_link::tracked(
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

}  // namespace cachet::detail

#endif
