#ifndef CACHET_REDIS_CLUSTER_CLIENT_HPP
#define CACHET_REDIS_CLUSTER_CLIENT_HPP

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
  cluster_client(executor_type ex, config cfg, cluster_routing_options routing = {})
      : state_(std::make_shared<state>(std::move(ex), std::move(cfg), routing)) {
    state_->cfg.require_valid();
    if (state_->cfg.cluster.seeds.empty())
      throw cachet::error(
          "cachet::redis::cluster_client: the config names no cluster seeds; use a "
          "redis-cluster://host:port[,host:port...] URL or fill cfg.cluster.seeds");
    if (routing.max_redirects < 0 || routing.refresh_interval.count() < 0)
      throw cachet::error(
          "cachet::redis::cluster_client: max_redirects or refresh_interval is negative; give "
          "0 or more");
  }

  cluster_client(cluster_client&&) noexcept = default;
  cluster_client& operator=(cluster_client&&) noexcept = default;
  cluster_client(const cluster_client&) = delete;
  cluster_client& operator=(const cluster_client&) = delete;

  /// Closes every node's connection (see client::close()).
  ~cluster_client() {
    if (!state_) return;
    std::lock_guard lock(state_->mutex);
    state_->closed = true;  // a background refresh still running adds no node
    for (auto& [address, n] : state_->nodes) n->conn->close();
  }

  /// Runs one command on the node owning its key's slot and returns its reply. Throws
  /// server_error on an error reply (other than a redirect), request_error as client::exec does,
  /// and request_error(too_many_redirects / cluster_unavailable) when it cannot be routed.
  boost::asio::awaitable<value> exec(cluster_command command, request_options options = {}) {
    auto s = checked_state();
    auto slot = cluster_slot(command.key);
    value reply = co_await run_routed(s, slot, std::move(command.args), options,
                                      clock::now() + s->routing.failover_wait);
    if (reply.is_error()) throw server_error(std::move(reply.text));
    co_return reply;
  }

  /// Runs many commands: those for one node are written together as one pipeline, the nodes are
  /// asked in parallel, and the replies come back in the order of `commands`. Error replies are
  /// returned as values; a command redirected is re-routed alone. Throws the first transport or
  /// routing failure.
  boost::asio::awaitable<std::vector<value>> exec_many(std::vector<cluster_command> commands,
                                                       request_options options = {}) {
    auto s = checked_state();
    co_await s->refresh_if_due();
    // The groups and the wait for them share one strand, so their countdown needs no lock.
    auto strand = boost::asio::make_strand(s->executor);
    co_return co_await boost::asio::co_spawn(
        strand, run_groups(s, strand, std::move(commands), options), boost::asio::use_awaitable);
  }

  /// Fetches the slot map now.
  /// \throws request_error(cluster_unavailable) when no node answers with one.
  boost::asio::awaitable<void> refresh() {
    auto s = checked_state();
    co_await s->refresh(nullptr);
  }

  /// The masters of the current slot map, as "host:port" (empty before the first refresh).
  std::vector<std::string> masters() const {
    auto s = checked_state();
    std::lock_guard lock(s->mutex);
    std::vector<std::string> out;
    for (const auto& [address, n] : s->nodes)
      if (n->owns_slots) out.push_back(address);
    return out;
  }

  /// The address ("host:port") the map routes `slot` to; empty when no node owns it.
  std::string owner_of(std::uint16_t slot) const {
    auto s = checked_state();
    std::lock_guard lock(s->mutex);
    const auto& n = s->slots.at(slot);
    return n ? n->address : std::string();
  }

  /// How many times the slot map was fetched (for tests and monitoring).
  std::size_t refresh_count() const {
    auto s = checked_state();
    std::lock_guard lock(s->mutex);
    return s->refreshes;
  }

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
    explicit refresh_flight(const executor_type& ex)
        : strand(boost::asio::make_strand(ex)), done(strand) {
      done.expires_at(boost::asio::steady_timer::time_point::max());
    }
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
    std::shared_ptr<node> node_at_locked(const std::string& host, std::uint16_t port) {
      std::string address = host + ":" + std::to_string(port);
      auto& n = nodes[address];
      if (!n) {
        n = std::make_shared<node>();
        n->address = address;
        n->host = host;
        n->port = port;
        config one = cfg;
        one.host = host;
        one.port = port;
        one.cluster = {};
        n->conn = std::make_shared<client>(executor, std::move(one));
      }
      return n;
    }

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
    bool assign(std::uint16_t slot, const std::shared_ptr<node>& n) {
      std::lock_guard lock(mutex);
      if (slots[slot] == n) return false;
      n->owns_slots = true;
      slots[slot] = n;
      return true;
    }

    // The first map is waited for; a due periodic one is fetched in the background.
    boost::asio::awaitable<void> refresh_if_due() {
      bool first = false, due = false;
      {
        std::lock_guard lock(mutex);
        first = refreshes == 0;
        due = routing.refresh_interval.count() > 0 &&
              clock::now() - refreshed_at >= routing.refresh_interval;
      }
      if (first)
        co_await refresh(nullptr);
      else if (due)
        begin_refresh(nullptr);
    }

    // Waits for a fetch of the slot map: the one under way, else a new one.
    boost::asio::awaitable<void> refresh(std::shared_ptr<node> failed) {
      auto flight = begin_refresh(std::move(failed));
      co_await boost::asio::co_spawn(flight->strand, wait_for(flight), boost::asio::use_awaitable);
    }

    // Starts a fetch of the slot map in the background unless one is under way; returns it.
    std::shared_ptr<refresh_flight> begin_refresh(std::shared_ptr<node> failed) {
      std::shared_ptr<refresh_flight> flight;
      {
        std::lock_guard lock(mutex);
        if (refreshing) return refreshing;
        flight = refreshing = std::make_shared<refresh_flight>(executor);
      }
      boost::asio::co_spawn(executor, lead(shared_from_this(), flight, std::move(failed)),
                            boost::asio::detached);
      return flight;
    }

    static boost::asio::awaitable<void> lead(std::shared_ptr<state> self,
                                             std::shared_ptr<refresh_flight> flight,
                                             std::shared_ptr<node> failed) {
      std::exception_ptr failure;
      try {
        co_await self->fetch_and_install(std::move(failed));
      } catch (...) {
        failure = std::current_exception();
      }
      {
        std::lock_guard lock(self->mutex);
        self->refreshing.reset();
      }
      boost::asio::post(flight->strand, [flight, failure] {
        flight->failure = failure;
        flight->finished = true;
        flight->done.cancel();
      });
    }

    // Runs on flight->strand.
    static boost::asio::awaitable<void> wait_for(std::shared_ptr<refresh_flight> flight) {
      if (!flight->finished) {
        boost::system::error_code cancelled;  // the fetch's end cancels the wait
        co_await flight->done.async_wait(
            boost::asio::redirect_error(boost::asio::use_awaitable, cancelled));
      }
      if (flight->failure) std::rethrow_exception(flight->failure);
    }

    // Asks the known nodes (the one that just failed last), then the seeds, for the slot map.
    boost::asio::awaitable<void> fetch_and_install(std::shared_ptr<node> failed) {
      std::vector<std::shared_ptr<node>> candidates;
      {
        std::lock_guard lock(mutex);
        if (closed)
          throw request_error(error::not_connected,
                              "cachet::redis::cluster_client: closed; no slot map is fetched");
        for (const auto& [address, n] : nodes)
          if (n != failed && n->owns_slots) candidates.push_back(n);
        for (const auto& seed : cfg.cluster.seeds) {
          auto n = node_at_locked(seed.host, seed.port);
          if (n != failed) candidates.push_back(n);
        }
        if (failed) candidates.push_back(failed);
      }
      std::string why;
      for (const auto& n : candidates) {
        try {
          auto map = co_await fetch_map(*n);
          install(map);
          co_return;
        } catch (const std::exception& e) {
          why = n->address + ": " + e.what();
        }
      }
      throw request_error(error::cluster_unavailable,
                          "cachet::redis::cluster_client: no node answered CLUSTER SHARDS or "
                          "CLUSTER SLOTS (last: " +
                              why + ")");
    }

    struct range {
      std::uint16_t first = 0;
      std::uint16_t last = 0;
      std::string host;
      std::uint16_t port = 0;
    };

    boost::asio::awaitable<std::vector<range>> fetch_map(node& n) {
      request shards;
      shards.push("CLUSTER", "SHARDS");
      auto replies = co_await n.conn->exec(shards, request_options{.idempotent = true});
      if (!replies.front().is_error()) co_return parse_shards(replies.front(), n.host);
      request slots_request;  // servers before 7.0 know only CLUSTER SLOTS
      slots_request.push("CLUSTER", "SLOTS");
      auto old = co_await n.conn->exec(slots_request, request_options{.idempotent = true});
      co_return parse_slots(old.front(), n.host);
    }

    // A node may announce an empty or "?" endpoint: then it is reached where it was asked.
    static std::string usable_host(const std::string& announced, const std::string& asked_host) {
      return announced.empty() || announced == "?" ? asked_host : announced;
    }

    static const value* field(const value& map, std::string_view name) {
      const auto& kv = map.as_map();
      for (std::size_t i = 0; i + 1 < kv.size(); i += 2)
        if (kv[i].is_string() && kv[i].text == name) return &kv[i + 1];
      return nullptr;
    }

    static std::vector<range> parse_shards(const value& reply, const std::string& asked_host) {
      std::vector<range> out;
      for (const auto& shard : reply.as_array()) {
        const value* slot_bounds = field(shard, "slots");
        const value* members = field(shard, "nodes");
        if (!slot_bounds || !members) continue;
        const value* master = nullptr;
        for (const auto& m : members->as_array()) {
          const value* role = field(m, "role");
          const value* health = field(m, "health");
          if (role && role->as_string() == "master" && (!health || health->as_string() == "online"))
            master = &m;
        }
        if (!master) continue;
        const value* endpoint = field(*master, "endpoint");
        const value* ip = field(*master, "ip");
        const value* port = field(*master, "port");
        if (!port) continue;
        std::string host = endpoint && endpoint->is_string() ? endpoint->as_string() : "";
        if ((host.empty() || host == "?") && ip) host = ip->as_string();
        const auto& b = slot_bounds->as_array();
        for (std::size_t i = 0; i + 1 < b.size(); i += 2)
          out.push_back({static_cast<std::uint16_t>(b[i].as_int()),
                         static_cast<std::uint16_t>(b[i + 1].as_int()),
                         usable_host(host, asked_host),
                         static_cast<std::uint16_t>(port->as_int())});
      }
      return out;
    }

    static std::vector<range> parse_slots(const value& reply, const std::string& asked_host) {
      std::vector<range> out;
      for (const auto& entry : reply.as_array()) {
        const auto& e = entry.as_array();
        if (e.size() < 3) continue;
        const auto& master = e[2].as_array();
        if (master.size() < 2) continue;
        out.push_back({static_cast<std::uint16_t>(e[0].as_int()),
                       static_cast<std::uint16_t>(e[1].as_int()),
                       usable_host(master[0].is_string() ? master[0].as_string() : "", asked_host),
                       static_cast<std::uint16_t>(master[1].as_int())});
      }
      return out;
    }

    void install(const std::vector<range>& map) {
      std::lock_guard lock(mutex);
      if (closed) return;
      std::vector<std::shared_ptr<node>> fresh(cluster_slot_count);
      for (auto& [address, n] : nodes) n->owns_slots = false;
      for (const auto& r : map) {
        auto n = node_at_locked(r.host, r.port);
        n->owns_slots = true;
        for (std::uint32_t s = r.first; s <= r.last && s < cluster_slot_count; ++s) fresh[s] = n;
      }
      slots = std::move(fresh);
      refreshed_at = clock::now();
      ++refreshes;
    }
  };

  // A redirect reply, "MOVED <slot> <host>:<port>" or "ASK <slot> <host>:<port>".
  struct redirect {
    bool ask = false;
    std::string host;
    std::uint16_t port = 0;
  };

  static std::optional<redirect> parse_redirect(const value& reply) {
    if (!reply.is_error()) return std::nullopt;
    std::string_view text = reply.text;
    bool ask = text.starts_with("ASK ");
    if (!ask && !text.starts_with("MOVED ")) return std::nullopt;
    auto space = text.find(' ', text.find(' ') + 1);
    auto colon = text.rfind(':');
    if (space == std::string_view::npos || colon == std::string_view::npos || colon < space)
      return std::nullopt;
    redirect r;
    r.ask = ask;
    r.host = std::string(text.substr(space + 1, colon - space - 1));
    int port = 0;
    for (char c : text.substr(colon + 1)) {
      if (c < '0' || c > '9') return std::nullopt;
      port = port * 10 + (c - '0');
      if (port > 65535) return std::nullopt;
    }
    r.port = static_cast<std::uint16_t>(port);
    return r;
  }

  static bool is_try_again(const value& reply) {
    return reply.is_error() && std::string_view(reply.text).starts_with("TRYAGAIN");
  }

  // Refusals that prove the command did not run while a failover or a restart is under way.
  static bool is_unavailable(const value& reply) {
    if (!reply.is_error()) return false;
    std::string_view text = reply.text;
    return text.starts_with("CLUSTERDOWN") || text.starts_with("LOADING") ||
           text.starts_with("READONLY");
  }

  // The wait before the next attempt at a cluster that cannot take a command; false (and no
  // wait) once `give_up` has passed.
  static boost::asio::awaitable<bool> pause_before_retry(clock::time_point give_up,
                                                         std::chrono::milliseconds& pause) {
    const auto now = clock::now();
    if (now >= give_up) co_return false;
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
    timer.expires_after(std::min<clock::duration>(pause, give_up - now));
    co_await timer.async_wait(boost::asio::use_awaitable);
    pause = std::min(pause * 2, std::chrono::milliseconds(200));
    co_return true;
  }

  static request encode(const std::vector<std::string>& args, bool asking) {
    request r;
    if (asking) r.push("ASKING");
    r.push(args.front(), std::span<const std::string>(args).subspan(1));
    return r;
  }

  static void require_command(const std::vector<std::string>& args) {
    if (args.empty())
      throw cachet::error(
          "cachet::redis::cluster_client: a command has no arguments; put the command name "
          "first in cluster_command::args");
  }

  // Sends `args` to the owner of `slot`, following redirects and riding out failovers until
  // `give_up`; returns the final reply (an error reply other than a redirect is returned, not
  // thrown). The commands of one exec_many share one `give_up`: a node down without a replica
  // to take over costs the call one failover_wait, not one per command.
  static boost::asio::awaitable<value> run_routed(std::shared_ptr<state> s, std::uint16_t slot,
                                                  std::vector<std::string> args,
                                                  request_options options,
                                                  clock::time_point give_up) {
    require_command(args);
    co_await s->refresh_if_due();
    auto pause = std::chrono::milliseconds(10);
    std::shared_ptr<node> target = s->owner(slot);
    bool asking = false;
    for (int redirects = 0;;) {
      if (!target) {
        std::exception_ptr no_map;
        try {
          co_await s->refresh(nullptr);
        } catch (const request_error&) {
          no_map = std::current_exception();
        }
        target = s->owner(slot);
        if (!target) {
          if (co_await pause_before_retry(give_up, pause)) continue;
          if (no_map) std::rethrow_exception(no_map);
          throw request_error(error::cluster_unavailable,
                              "cachet::redis::cluster_client: no node owns slot " +
                                  std::to_string(slot) + " in the cluster's slot map");
        }
      }
      if (redirects > s->routing.max_redirects)
        throw request_error(error::too_many_redirects,
                            "cachet::redis::cluster_client: slot " + std::to_string(slot) +
                                " was redirected more than " +
                                std::to_string(s->routing.max_redirects) +
                                " times; the cluster is resharding or its map is inconsistent");
      std::vector<value> replies;
      std::exception_ptr unreachable;
      try {
        replies = co_await target->conn->exec(encode(args, asking), options);
      } catch (const request_error& e) {
        // Not written, so it had no effect: ask another node for the map and try again.
        if (e.code() != error::not_connected && e.code() != error::connection_lost) throw;
        unreachable = std::current_exception();
      }
      if (unreachable) {
        auto failed = target;
        try {
          co_await s->refresh(failed);
        } catch (const request_error&) {
          // No node answered either; the pause below gives the cluster time.
        }
        target = s->owner(slot);
        asking = false;
        if (clock::now() >= give_up || s->is_closed()) std::rethrow_exception(unreachable);
        if (target == failed) co_await pause_before_retry(give_up, pause);
        continue;
      }
      value& reply = replies.back();
      if (auto r = parse_redirect(reply)) {
        auto to = s->node_at(r->host, r->port);
        // The first command to meet the move fetches the map, in the background.
        if (!r->ask && s->assign(slot, to)) s->begin_refresh(nullptr);
        target = to;
        asking = r->ask;
        ++redirects;
        continue;
      }
      if (is_try_again(reply)) {
        asking = false;
        target = s->owner(slot);
        ++redirects;
        continue;
      }
      if (is_unavailable(reply) && co_await pause_before_retry(give_up, pause)) {
        // LOADING keeps its node; CLUSTERDOWN and READONLY mean the map may have changed.
        if (!std::string_view(reply.text).starts_with("LOADING")) {
          try {
            co_await s->refresh(nullptr);
          } catch (const request_error&) {
            // Retried on the map as it is until failover_wait is spent.
          }
          target = s->owner(slot);
        }
        asking = false;
        continue;
      }
      co_return std::move(reply);
    }
  }

  // Runs on `strand`: starts one group per node, then waits until all have finished.
  static boost::asio::awaitable<std::vector<value>> run_groups(
      std::shared_ptr<state> s, strand_type strand, std::vector<cluster_command> commands,
      request_options options) {
    const auto give_up = clock::now() + s->routing.failover_wait;
    std::map<std::shared_ptr<node>, std::vector<std::size_t>> by_node;
    for (std::size_t i = 0; i < commands.size(); ++i)
      by_node[s->owner(cluster_slot(commands[i].key))].push_back(i);
    std::vector<value> replies(commands.size());
    struct countdown {
      explicit countdown(const strand_type& ex, std::size_t n) : left(n), finished(ex) {}
      std::size_t left;
      std::exception_ptr first_failure;
      boost::asio::steady_timer finished;
    };
    auto groups = std::make_shared<countdown>(strand, by_node.size());
    groups->finished.expires_at(boost::asio::steady_timer::time_point::max());
    for (auto& [owner, indexes] : by_node) {
      boost::asio::co_spawn(
          strand, run_group(s, owner, std::move(indexes), &commands, &replies, options, give_up),
          [groups](std::exception_ptr failure) {
            if (failure && !groups->first_failure) groups->first_failure = failure;
            if (--groups->left == 0) groups->finished.cancel();
          });
    }
    if (groups->left > 0) {
      boost::system::error_code cancelled;  // the last group cancels the wait
      co_await groups->finished.async_wait(
          boost::asio::redirect_error(boost::asio::use_awaitable, cancelled));
    }
    if (groups->first_failure) std::rethrow_exception(groups->first_failure);
    co_return replies;
  }

  // One node's share of exec_many: one pipeline; commands redirected are re-routed alone.
  static boost::asio::awaitable<void> run_group(
      std::shared_ptr<state> s, std::shared_ptr<node> owner, std::vector<std::size_t> indexes,
      const std::vector<cluster_command>* commands, std::vector<value>* replies,
      request_options options, clock::time_point give_up) {
    std::vector<value> got;
    if (owner) {
      request pipeline;
      for (auto i : indexes) {
        const auto& args = (*commands)[i].args;
        require_command(args);
        pipeline.push(args.front(), std::span<const std::string>(args).subspan(1));
      }
      try {
        got = co_await owner->conn->exec(pipeline, options);
      } catch (const request_error& e) {
        if (e.code() != error::not_connected && e.code() != error::connection_lost) throw;
        got.clear();  // nothing was written: each command is routed alone below
      }
    }
    for (std::size_t k = 0; k < indexes.size(); ++k) {
      auto i = indexes[k];
      if (k < got.size() && !parse_redirect(got[k]) && !is_try_again(got[k]) &&
          !is_unavailable(got[k])) {
        (*replies)[i] = std::move(got[k]);
        continue;
      }
      const auto& c = (*commands)[i];
      (*replies)[i] = co_await run_routed(s, cluster_slot(c.key), c.args, options, give_up);
    }
  }

  std::shared_ptr<state> checked_state() const {
    if (!state_)
      throw request_error(error::not_connected,
                          "cachet::redis::cluster_client: used after being moved from; use the "
                          "cluster_client it was moved to");
    return state_;
  }

  std::shared_ptr<state> state_;
};

}  // namespace cachet::resp3

#endif
