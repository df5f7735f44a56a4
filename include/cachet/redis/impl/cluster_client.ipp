#ifndef CACHET_REDIS_IMPL_CLUSTER_CLIENT_IPP
#define CACHET_REDIS_IMPL_CLUSTER_CLIENT_IPP

// Bodies of <cachet/redis/cluster_client.hpp>; see <cachet/detail/linkage.hpp>.

#include <cachet/redis/cluster_client.hpp>

namespace cachet::resp3 {

CACHET_DECL cluster_client::cluster_client(executor_type ex, config cfg,
                                           cluster_routing_options routing)
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

CACHET_DECL cluster_client::countdown::countdown(const strand_type& ex, std::size_t n)
    : left(n), finished(ex) {}

CACHET_DECL cluster_client::~cluster_client() {
  if (!state_) return;
  std::lock_guard lock(state_->mutex);
  state_->closed = true;  // a background refresh still running adds no node
  for (auto& [address, n] : state_->nodes) n->conn->close();
}

CACHET_DECL boost::asio::awaitable<value> cluster_client::exec(cluster_command command,
                                                               request_options options) {
  auto s = checked_state();
  auto slot = cluster_slot(command.key);
  value reply = co_await run_routed(s, slot, std::move(command.args), options,
                                    clock::now() + s->routing.failover_wait);
  if (reply.is_error()) throw server_error(std::move(reply.text));
  co_return reply;
}

CACHET_DECL boost::asio::awaitable<std::vector<value>> cluster_client::exec_many(
    std::vector<cluster_command> commands, request_options options) {
  auto s = checked_state();
  co_await s->refresh_if_due();
  // The groups and the wait for them share one strand, so their countdown needs no lock.
  auto strand = boost::asio::make_strand(s->executor);
  co_return co_await boost::asio::co_spawn(
      strand, run_groups(s, strand, std::move(commands), options), boost::asio::use_awaitable);
}

CACHET_DECL boost::asio::awaitable<void> cluster_client::refresh() {
  auto s = checked_state();
  co_await s->refresh(nullptr);
}

CACHET_DECL std::vector<std::string> cluster_client::masters() const {
  auto s = checked_state();
  std::lock_guard lock(s->mutex);
  std::vector<std::string> out;
  for (const auto& [address, n] : s->nodes)
    if (n->owns_slots) out.push_back(address);
  return out;
}

CACHET_DECL std::string cluster_client::owner_of(std::uint16_t slot) const {
  auto s = checked_state();
  std::lock_guard lock(s->mutex);
  const auto& n = s->slots.at(slot);
  return n ? n->address : std::string();
}

CACHET_DECL std::size_t cluster_client::refresh_count() const {
  auto s = checked_state();
  std::lock_guard lock(s->mutex);
  return s->refreshes;
}

CACHET_DECL cluster_client::refresh_flight::refresh_flight(const executor_type& ex)
    : strand(boost::asio::make_strand(ex)), done(strand) {
  done.expires_at(boost::asio::steady_timer::time_point::max());
}

CACHET_DECL std::shared_ptr<cluster_client::node> cluster_client::state::node_at_locked(
    const std::string& host, std::uint16_t port) {
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

CACHET_DECL bool cluster_client::state::assign(std::uint16_t slot, const std::shared_ptr<node>& n) {
  std::lock_guard lock(mutex);
  if (slots[slot] == n) return false;
  n->owns_slots = true;
  slots[slot] = n;
  return true;
}

CACHET_DECL boost::asio::awaitable<void> cluster_client::state::refresh_if_due() {
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

CACHET_DECL boost::asio::awaitable<void> cluster_client::state::refresh(
    std::shared_ptr<node> failed) {
  auto flight = begin_refresh(std::move(failed));
  co_await boost::asio::co_spawn(flight->strand, wait_for(flight), boost::asio::use_awaitable);
}

CACHET_DECL std::shared_ptr<cluster_client::refresh_flight> cluster_client::state::begin_refresh(
    std::shared_ptr<node> failed) {
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

CACHET_DECL boost::asio::awaitable<void> cluster_client::state::lead(
    std::shared_ptr<state> self, std::shared_ptr<refresh_flight> flight,
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

CACHET_DECL boost::asio::awaitable<void> cluster_client::state::wait_for(
    std::shared_ptr<refresh_flight> flight) {
  if (!flight->finished) {
    boost::system::error_code cancelled;  // the fetch's end cancels the wait
    co_await flight->done.async_wait(
        boost::asio::redirect_error(boost::asio::use_awaitable, cancelled));
  }
  if (flight->failure) std::rethrow_exception(flight->failure);
}

CACHET_DECL boost::asio::awaitable<void> cluster_client::state::fetch_and_install(
    std::shared_ptr<node> failed) {
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

CACHET_DECL auto cluster_client::state::fetch_map(node& n)
    -> boost::asio::awaitable<std::vector<range>> {
  request shards;
  shards.push("CLUSTER", "SHARDS");
  auto replies = co_await n.conn->exec(shards, request_options{.idempotent = true});
  if (!replies.front().is_error()) co_return parse_shards(replies.front(), n.host);
  request slots_request;  // servers before 7.0 know only CLUSTER SLOTS
  slots_request.push("CLUSTER", "SLOTS");
  auto old = co_await n.conn->exec(slots_request, request_options{.idempotent = true});
  co_return parse_slots(old.front(), n.host);
}

CACHET_DECL const value* cluster_client::state::field(const value& map, std::string_view name) {
  const auto& kv = map.as_map();
  for (std::size_t i = 0; i + 1 < kv.size(); i += 2)
    if (kv[i].is_string() && kv[i].text == name) return &kv[i + 1];
  return nullptr;
}

CACHET_DECL auto cluster_client::state::parse_shards(const value& reply,
                                                     const std::string& asked_host)
    -> std::vector<range> {
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
                     static_cast<std::uint16_t>(b[i + 1].as_int()), usable_host(host, asked_host),
                     static_cast<std::uint16_t>(port->as_int())});
  }
  return out;
}

CACHET_DECL auto cluster_client::state::parse_slots(const value& reply,
                                                    const std::string& asked_host)
    -> std::vector<range> {
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

CACHET_DECL void cluster_client::state::install(const std::vector<range>& map) {
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

CACHET_DECL auto cluster_client::parse_redirect(const value& reply) -> std::optional<redirect> {
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

CACHET_DECL bool cluster_client::is_unavailable(const value& reply) {
  if (!reply.is_error()) return false;
  std::string_view text = reply.text;
  return text.starts_with("CLUSTERDOWN") || text.starts_with("LOADING") ||
         text.starts_with("READONLY");
}

CACHET_DECL boost::asio::awaitable<bool> cluster_client::pause_before_retry(
    clock::time_point give_up, std::chrono::milliseconds& pause) {
  const auto now = clock::now();
  if (now >= give_up) co_return false;
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
  timer.expires_after(std::min<clock::duration>(pause, give_up - now));
  co_await timer.async_wait(boost::asio::use_awaitable);
  pause = std::min(pause * 2, std::chrono::milliseconds(200));
  co_return true;
}

CACHET_DECL request cluster_client::encode(const std::vector<std::string>& args, bool asking) {
  request r;
  if (asking) r.push("ASKING");
  r.push(args.front(), std::span<const std::string>(args).subspan(1));
  return r;
}

CACHET_DECL void cluster_client::require_command(const std::vector<std::string>& args) {
  if (args.empty())
    throw cachet::error(
        "cachet::redis::cluster_client: a command has no arguments; put the command name "
        "first in cluster_command::args");
}

CACHET_DECL boost::asio::awaitable<value> cluster_client::run_routed(std::shared_ptr<state> s,
                                                                     std::uint16_t slot,
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

CACHET_DECL boost::asio::awaitable<std::vector<value>> cluster_client::run_groups(
    std::shared_ptr<state> s, strand_type strand, std::vector<cluster_command> commands,
    request_options options) {
  const auto give_up = clock::now() + s->routing.failover_wait;
  std::map<std::shared_ptr<node>, std::vector<std::size_t>> by_node;
  for (std::size_t i = 0; i < commands.size(); ++i)
    by_node[s->owner(cluster_slot(commands[i].key))].push_back(i);
  std::vector<value> replies(commands.size());
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

CACHET_DECL boost::asio::awaitable<void> cluster_client::run_group(
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

CACHET_DECL std::shared_ptr<cluster_client::state> cluster_client::checked_state() const {
  if (!state_)
    throw request_error(error::not_connected,
                        "cachet::redis::cluster_client: used after being moved from; use the "
                        "cluster_client it was moved to");
  return state_;
}

}  // namespace cachet::resp3

#endif
