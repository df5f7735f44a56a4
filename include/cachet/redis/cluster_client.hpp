#ifndef CACHET_REDIS_CLUSTER_CLIENT_HPP
#define CACHET_REDIS_CLUSTER_CLIENT_HPP

#include <cachet/detail/linkage.hpp>
#include <cachet/redis/client.hpp>
#include <cachet/redis/cluster_slot.hpp>
#include <cachet/redis/config.hpp>
#include <cachet/redis/error.hpp>
#include <cachet/redis/request.hpp>
#include <cachet/redis/resp3.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cachet::resp3 {

/// One command for a cluster_client: its arguments (the command name first) and the key that
/// routes it (the slot of `key` picks the node).
///
///   cluster_command{.key = "user:42", .args = {"GET", "user:42"}}
struct cluster_command {
  std::string key = {};
  std::vector<std::string> args = {};
};

/// Limits of a cluster_client's routing.
struct cluster_routing_options {
  /// How often one command may be redirected (MOVED, ASK, TRYAGAIN) before it fails with
  /// error::too_many_redirects.
  int max_redirects = 5;
  /// The slot map is fetched again, in the background, at the first command after it is this
  /// old (besides after a MOVED to a node the map did not name and after a node that cannot be
  /// reached). Zero: only on those events.
  std::chrono::milliseconds refresh_interval{30000};
  /// How long one command keeps being retried while the cluster cannot take it without having
  /// run it: its node refuses connections or drops them before the command was written, or
  /// answers CLUSTERDOWN, LOADING or READONLY (a failover or restart under way). The pauses
  /// between attempts double from 10 ms up to 200 ms; past this the last failure is reported.
  /// The commands of one exec_many share this wait: it bounds the whole call.
  std::chrono::milliseconds failover_wait{3000};
};

/// A Redis Cluster client: one pipelined cachet::redis::client per master node, commands routed
/// by the CRC16 hash slot of their key (hash tags respected).
///
///   boost::asio::io_context io;
///   auto cfg = cachet::redis::config::from_url("redis-cluster://10.0.0.1:7000,10.0.0.2:7000");
///   cachet::redis::cluster_client c(io.get_executor(), cfg);
///   co_await c.exec({.key = "k", .args = {"SET", "k", "v"}});
///
/// The slot map comes from `CLUSTER SHARDS` (`CLUSTER SLOTS` on servers before 7), asked of the
/// known nodes and then the seeds in turn. It is fetched again after a `MOVED` reply (the
/// command goes to the node MOVED names at once), after a node could not be reached (another
/// node is asked), and periodically. Concurrent needs for a new map share one fetch, and only
/// the first command (when no map is known yet) and a node that cannot be reached wait for it:
/// after `MOVED` the command goes to the node MOVED names at once and the periodic refresh runs
/// in the background. `ASK` sends `ASKING` and the command to the named node without changing
/// the map; `TRYAGAIN` (a multi-key command during a migration) is retried. Each command is
/// redirected at most cluster_routing_options::max_redirects times. A command is re-sent only
/// when it certainly had no effect: not yet written when its connection failed, or refused with
/// a redirect, CLUSTERDOWN, LOADING or READONLY (retried for at most
/// cluster_routing_options::failover_wait, so a failover costs a short wait instead of
/// failures). One written and then cut off fails with error::outcome_unknown as on client.
///
/// Thread safety: any member may be called from any thread; the slot map is guarded by a mutex
/// held only to read or replace it, never across a wait.
class cluster_client {
 public:
  using executor_type = boost::asio::any_io_executor;

  /// Nothing is connected until the first command.
  /// \throws cachet::error when `cfg` names no cluster seeds or cannot work
  /// (config::require_valid()), or `routing` allows no attempt.
  CACHET_DECL cluster_client(executor_type ex, config cfg, cluster_routing_options routing = {});

  cluster_client(cluster_client&&) noexcept = default;
  cluster_client& operator=(cluster_client&&) noexcept = default;
  cluster_client(const cluster_client&) = delete;
  cluster_client& operator=(const cluster_client&) = delete;

  /// Closes every node's connection (see client::close()).
  CACHET_DECL ~cluster_client();

  /// Runs one command on the node owning its key's slot and returns its reply. Throws
  /// server_error on an error reply (other than a redirect), request_error as client::exec does,
  /// and request_error(too_many_redirects / cluster_unavailable) when it cannot be routed.
  CACHET_DECL boost::asio::awaitable<value> exec(cluster_command command,
                                                 request_options options = {});

  /// Runs many commands: those for one node are written together as one pipeline, the nodes are
  /// asked in parallel, and the replies come back in the order of `commands`. Error replies are
  /// returned as values; a command redirected is re-routed alone. Throws the first transport or
  /// routing failure.
  CACHET_DECL boost::asio::awaitable<std::vector<value>> exec_many(
      std::vector<cluster_command> commands, request_options options = {});

  /// Fetches the slot map now.
  /// \throws request_error(cluster_unavailable) when no node answers with one.
  CACHET_DECL boost::asio::awaitable<void> refresh();

  /// The masters of the current slot map, as "host:port" (empty before the first refresh).
  CACHET_DECL std::vector<std::string> masters() const;

  /// The address ("host:port") the map routes `slot` to; empty when no node owns it.
  CACHET_DECL std::string owner_of(std::uint16_t slot) const;

  /// How many times the slot map was fetched (for tests and monitoring).
  CACHET_DECL std::size_t refresh_count() const;

 private:
  using clock = std::chrono::steady_clock;

  struct node {
    std::string address;
    std::string host;
    std::uint16_t port = 0;
    std::shared_ptr<client> conn;
    bool owns_slots = false;
  };

  using strand_type = boost::asio::strand<executor_type>;

  // One fetch of the slot map that every command needing a new map waits for. Its fields are
  // touched only on `strand`.
  struct refresh_flight {
    CACHET_DECL explicit refresh_flight(const executor_type& ex);
    strand_type strand;
    boost::asio::steady_timer done;
    bool finished = false;
    std::exception_ptr failure;
  };

  struct state : std::enable_shared_from_this<state> {
    state(executor_type ex, config c, cluster_routing_options r)
        : executor(std::move(ex)), cfg(std::move(c)), routing(r), slots(cluster_slot_count) {}

    executor_type executor;
    config cfg;
    cluster_routing_options routing;
    mutable std::mutex mutex;
    std::map<std::string, std::shared_ptr<node>> nodes;  // by address
    std::vector<std::shared_ptr<node>> slots;            // slot -> owner, null when unknown
    clock::time_point refreshed_at{};
    std::size_t refreshes = 0;
    std::shared_ptr<refresh_flight> refreshing;  // the fetch under way, if any
    bool closed = false;

    // Called with the mutex held.
    CACHET_DECL std::shared_ptr<node> node_at_locked(const std::string& host, std::uint16_t port);

    std::shared_ptr<node> node_at(const std::string& host, std::uint16_t port) {
      std::lock_guard lock(mutex);
      return node_at_locked(host, port);
    }

    std::shared_ptr<node> owner(std::uint16_t slot) {
      std::lock_guard lock(mutex);
      return slots[slot];
    }

    bool is_closed() const {
      std::lock_guard lock(mutex);
      return closed;
    }

    // Routes `slot` to `n`; false when the map already did (a MOVED another command saw first).
    CACHET_DECL bool assign(std::uint16_t slot, const std::shared_ptr<node>& n);

    // The first map is waited for; a due periodic one is fetched in the background.
    CACHET_DECL boost::asio::awaitable<void> refresh_if_due();

    // Waits for a fetch of the slot map: the one under way, else a new one.
    CACHET_DECL boost::asio::awaitable<void> refresh(std::shared_ptr<node> failed);

    // Starts a fetch of the slot map in the background unless one is under way; returns it.
    CACHET_DECL std::shared_ptr<refresh_flight> begin_refresh(std::shared_ptr<node> failed);

    CACHET_DECL static boost::asio::awaitable<void> lead(std::shared_ptr<state> self,
                                                         std::shared_ptr<refresh_flight> flight,
                                                         std::shared_ptr<node> failed);

    // Runs on flight->strand.
    CACHET_DECL static boost::asio::awaitable<void> wait_for(
        std::shared_ptr<refresh_flight> flight);

    // Asks the known nodes (the one that just failed last), then the seeds, for the slot map.
    CACHET_DECL boost::asio::awaitable<void> fetch_and_install(std::shared_ptr<node> failed);

    struct range {
      std::uint16_t first = 0;
      std::uint16_t last = 0;
      std::string host;
      std::uint16_t port = 0;
    };

    CACHET_DECL boost::asio::awaitable<std::vector<range>> fetch_map(node& n);

    // A node may announce an empty or "?" endpoint: then it is reached where it was asked.
    static std::string usable_host(const std::string& announced, const std::string& asked_host) {
      return announced.empty() || announced == "?" ? asked_host : announced;
    }

    CACHET_DECL static const value* field(const value& map, std::string_view name);

    CACHET_DECL static std::vector<range> parse_shards(const value& reply,
                                                       const std::string& asked_host);

    CACHET_DECL static std::vector<range> parse_slots(const value& reply,
                                                      const std::string& asked_host);

    CACHET_DECL void install(const std::vector<range>& map);
  };

  // A redirect reply, "MOVED <slot> <host>:<port>" or "ASK <slot> <host>:<port>".
  struct redirect {
    bool ask = false;
    std::string host;
    std::uint16_t port = 0;
  };

  CACHET_DECL static std::optional<redirect> parse_redirect(const value& reply);

  static bool is_try_again(const value& reply) {
    return reply.is_error() && std::string_view(reply.text).starts_with("TRYAGAIN");
  }

  // Refusals that prove the command did not run while a failover or a restart is under way.
  CACHET_DECL static bool is_unavailable(const value& reply);

  // The wait before the next attempt at a cluster that cannot take a command; false (and no
  // wait) once `give_up` has passed.
  CACHET_DECL static boost::asio::awaitable<bool> pause_before_retry(
      clock::time_point give_up, std::chrono::milliseconds& pause);

  CACHET_DECL static request encode(const std::vector<std::string>& args, bool asking);

  CACHET_DECL static void require_command(const std::vector<std::string>& args);

  // Sends `args` to the owner of `slot`, following redirects and riding out failovers until
  // `give_up`; returns the final reply (an error reply other than a redirect is returned, not
  // thrown). The commands of one exec_many share one `give_up`: a node down without a replica
  // to take over costs the call one failover_wait, not one per command.
  CACHET_DECL static boost::asio::awaitable<value> run_routed(std::shared_ptr<state> s,
                                                              std::uint16_t slot,
                                                              std::vector<std::string> args,
                                                              request_options options,
                                                              clock::time_point give_up);

  // The groups of one run_groups call still running and the first failure among them; touched
  // only on its strand. (A class member rather than local to run_groups: g++ refuses a type
  // local to a non-inline coroutine in its frame, -Wsubobject-linkage, as separately compiled.)
  struct countdown {
    // Out of line: binding the timer to a strand instantiates a good part of Asio's executor
    // machinery, which a unit that never builds one should not pay for.
    CACHET_DECL explicit countdown(const strand_type& ex, std::size_t n);
    std::size_t left;
    std::exception_ptr first_failure;
    boost::asio::steady_timer finished;
  };

  // Runs on `strand`: starts one group per node, then waits until all have finished.
  CACHET_DECL static boost::asio::awaitable<std::vector<value>> run_groups(
      std::shared_ptr<state> s, strand_type strand, std::vector<cluster_command> commands,
      request_options options);

  // One node's share of exec_many: one pipeline; commands redirected are re-routed alone.
  CACHET_DECL static boost::asio::awaitable<void> run_group(
      std::shared_ptr<state> s, std::shared_ptr<node> owner, std::vector<std::size_t> indexes,
      const std::vector<cluster_command>* commands, std::vector<value>* replies,
      request_options options, clock::time_point give_up);

  CACHET_DECL std::shared_ptr<state> checked_state() const;

  std::shared_ptr<state> state_;
};

}  // namespace cachet::resp3

#if CACHET_INCLUDE_BODIES
#include <cachet/redis/impl/cluster_client.ipp>
#endif

#endif
