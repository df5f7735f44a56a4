#ifndef CACHET_DETAIL_REDIS_BACKEND_LINK_HPP
#define CACHET_DETAIL_REDIS_BACKEND_LINK_HPP

// How a Redis backend reaches Redis: one server (or a Sentinel group, or TLS) through one
// pipelined resp3::client, or a Redis Cluster through a resp3::cluster_client. The config picks
// one at run time (cluster seeds or not), so the store is one class for both and compiled once;
// every request of the backend names the key that routes it, which one server ignores.

#include <cachet/detail/linkage.hpp>
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
  CACHET_DECL backend_link(boost::asio::any_io_executor ex, resp3::config cfg);

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
  CACHET_DECL void close();

  /// Where it connects, for messages: "host:port", or the cluster's seeds.
  CACHET_DECL std::string describe() const;

  /// Why Redis last failed, in words; empty while it works. On a cluster, the last failed
  /// request's reason (cluster_client keeps no per-node reason), cleared by the next success.
  CACHET_DECL std::string last_error() const;

  /// Runs `commands`, one pipeline on one server; on a cluster, one pipeline per node, the nodes
  /// in parallel. Replies in the order of the commands, error replies as values; a transport or
  /// routing failure throws.
  CACHET_DECL boost::asio::awaitable<std::vector<resp3::value>> exec_many(
      std::vector<resp3::cluster_command> commands, resp3::request_options options = {});

  /// One pipeline (per node) of `calls` by EVALSHA. Those the server has no script for yet
  /// (NOSCRIPT, so they did not run) go again by EVAL, which also caches the script there.
  CACHET_DECL boost::asio::awaitable<std::vector<resp3::value>> eval_many(
      const resp3::script& script, const std::vector<script_call>& calls,
      resp3::request_options options = {});

  /// One script call; an error reply throws server_error.
  CACHET_DECL boost::asio::awaitable<resp3::value> eval(const resp3::script& script,
                                                        script_call call,
                                                        resp3::request_options options = {});

 private:
  CACHET_DECL static resp3::cluster_command script_command(const std::string& script_text,
                                                           const char* verb, const script_call& c);

  // Keeps the reason of the cluster's last failure for last_error().
  CACHET_DECL boost::asio::awaitable<std::vector<resp3::value>> tracked(
      boost::asio::awaitable<std::vector<resp3::value>> request);

  std::optional<resp3::client> own_server_;
  resp3::client* server_ = nullptr;  // own_server_'s, or one lent to it
  std::optional<resp3::cluster_client> cluster_;
  std::string seeds_;  // for describe()
  mutable std::mutex last_error_mutex_;
  std::string last_error_;
  std::atomic<bool> failed_{false};  // last_error_ is not empty
};

}  // namespace cachet::detail

#if CACHET_INCLUDE_BODIES
#include <cachet/detail/redis/impl/backend_link.ipp>
#endif

#endif
