#ifndef CACHET_TESTS_SUPPORT_REDIS_CLUSTER_HPP
#define CACHET_TESTS_SUPPORT_REDIS_CLUSTER_HPP

// Test support: a real Redis Cluster of private redis-server processes (never a mock).
//
//   cachet_test::redis_cluster cluster({.masters = 3, .replicas_per_master = 1});
//   auto cfg = cachet::redis::config::from_url(cluster.url());   // redis-cluster://seeds
//   cluster.cli(cluster.node(0).port(), "CLUSTER INFO");           // redis-cli, its output
//   cluster.wait_until_stable();                                   // after a failover, a reshard

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/redis_server.hpp"

namespace cachet_test {

/// The shape of a redis_cluster.
struct redis_cluster_options {
  int masters = 3;
  int replicas_per_master = 0;
  /// cluster-node-timeout: how long a silent node takes to be marked failed (and, with a
  /// replica, failed over). Small values make failover tests fast and the cluster quicker to
  /// report cluster_state:ok after creation.
  std::chrono::milliseconds node_timeout{1000};
  /// How long construction and wait_until_stable() wait for the cluster to agree.
  std::chrono::seconds settle_limit{30};
};

/// `masters` × (1 + `replicas_per_master`) redis-server processes with cluster mode on, each on a
/// free loopback port with an explicit free bus port (--cluster-port; the default, port + 10000,
/// fails above port 55535) and its own temporary directory, joined by
/// `redis-cli --cluster create --cluster-replicas R`. The constructor returns once every node
/// reports cluster_state:ok, knows every node and every replica's link to its master is up. The
/// destructor stops every process and removes the directories (private_redis_server's RAII).
/// Methods block (they run redis-cli): call them from a thread other than one running the
/// io_context whose load they observe.
class redis_cluster {
 public:
  explicit redis_cluster(redis_cluster_options options = {}) : options_(options) {
    if (options_.masters < 3 || options_.replicas_per_master < 0)
      throw std::invalid_argument(
          "cachet_test::redis_cluster: Redis Cluster needs at least 3 masters and 0 or more "
          "replicas per master; give masters >= 3");
    const int total = options_.masters * (1 + options_.replicas_per_master);
    for (int i = 0; i < total; ++i)
      nodes_.push_back(std::make_unique<private_redis_server>(std::vector<std::string>{
          "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
          "--cluster-node-timeout", std::to_string(options_.node_timeout.count()), "--cluster-port",
          std::to_string(detail::free_loopback_port())}));
    // redis-cli makes the first `masters` addresses masters and the rest their replicas.
    std::string create = "--cluster create";
    for (const auto& n : nodes_) create += " 127.0.0.1:" + std::to_string(n->port());
    create += " --cluster-replicas " + std::to_string(options_.replicas_per_master);
    create += " --cluster-yes";
    run_cli(create);
    wait_until_stable();
  }

  redis_cluster(const redis_cluster&) = delete;
  redis_cluster& operator=(const redis_cluster&) = delete;

  /// Every node, masters first as created (roles change with failovers: ask role_of()).
  std::vector<std::unique_ptr<private_redis_server>>& nodes() { return nodes_; }
  private_redis_server& node(std::size_t i) { return *nodes_.at(i); }

  /// `redis-cluster://127.0.0.1:<p1>,...` naming every node as a seed.
  std::string url() const {
    std::string out = "redis-cluster://";
    for (const auto& n : nodes_) out += "127.0.0.1:" + std::to_string(n->port()) + ",";
    out.pop_back();
    return out;
  }

  /// Runs `redis-cli -p <port> <args>` and returns its standard output; throws when it fails.
  std::string cli(unsigned short port, const std::string& args) const {
    return run_cli("-p " + std::to_string(port) + " " + args);
  }

  /// "master" or "slave": the first line of ROLE on the node at `port`.
  std::string role_of(unsigned short port) const {
    auto out = cli(port, "ROLE");
    return out.substr(0, out.find('\n'));
  }

  /// The node ID (CLUSTER MYID) of the node at `port`.
  std::string id_of(unsigned short port) const {
    auto out = cli(port, "CLUSTER MYID");
    return out.substr(0, out.find('\n'));
  }

  /// The running nodes whose role is `role` ("master" or "slave").
  std::vector<private_redis_server*> with_role(const std::string& role) {
    std::vector<private_redis_server*> out;
    for (auto& n : nodes_)
      if (n->running() && role_of(n->port()) == role) out.push_back(n.get());
    return out;
  }

  /// Bounded polling of `condition` every 20 ms; throws naming `what` when it stays false past
  /// `limit` (default: options.settle_limit).
  template <class Condition>
  void wait_until(Condition condition, const std::string& what,
                  std::chrono::milliseconds limit = {}) const {
    if (limit.count() == 0) limit = options_.settle_limit;
    const auto give_up = std::chrono::steady_clock::now() + limit;
    while (!condition()) {
      if (std::chrono::steady_clock::now() > give_up)
        throw std::runtime_error("cachet_test::redis_cluster: timed out waiting until " + what);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  /// Waits until every running node reports cluster_state:ok, knows every running node as
  /// healthy, agrees on the slot map (redis-cli --cluster check) and every running replica's
  /// link to its master is up.
  void wait_until_stable() {
    wait_until([this] { return stable(); }, "every node reports a healthy, agreed cluster");
  }

 private:
  bool stable() const {
    std::string any;
    std::size_t running = 0;
    for (const auto& n : nodes_) {
      if (!n->running()) continue;
      ++running;
      any = "127.0.0.1:" + std::to_string(n->port());
    }
    for (const auto& n : nodes_) {
      if (!n->running()) continue;
      auto info = cli(n->port(), "CLUSTER INFO");
      if (info.find("cluster_state:ok") == std::string::npos) return false;
      auto known = cli(n->port(), "CLUSTER NODES");
      std::size_t healthy = 0;
      for (std::size_t at = 0; at < known.size();) {
        auto end = known.find('\n', at);
        if (end == std::string::npos) end = known.size();
        auto line = known.substr(at, end - at);
        if (!line.empty() && line.find("fail") == std::string::npos &&
            line.find("disconnected") == std::string::npos &&
            line.find("handshake") == std::string::npos)
          ++healthy;
        at = end + 1;
      }
      if (healthy != running) return false;
      auto replication = cli(n->port(), "INFO replication");
      if (replication.find("role:slave") != std::string::npos &&
          replication.find("master_link_status:up") == std::string::npos)
        return false;
    }
    try {
      auto check = run_cli("--cluster check " + any);
      return check.find("[OK] All nodes agree") != std::string::npos &&
             check.find("[OK] All 16384 slots covered") != std::string::npos;
    } catch (const std::runtime_error&) {
      return false;  // check exits non-zero while slots are open or uncovered
    }
  }

  static std::string run_cli(const std::string& args) {
    const std::string command = "redis-cli " + args + " 2>&1";
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) detail::throw_errno("popen " + command);
    std::string out;
    std::array<char, 4096> chunk{};
    while (std::size_t got = std::fread(chunk.data(), 1, chunk.size(), pipe))
      out.append(chunk.data(), got);
    if (int status = ::pclose(pipe); status != 0)
      throw std::runtime_error("cachet_test::redis_cluster: `" + command + "` failed:\n" + out);
    return out;
  }

  redis_cluster_options options_;
  std::vector<std::unique_ptr<private_redis_server>> nodes_;
};

}  // namespace cachet_test

#endif
