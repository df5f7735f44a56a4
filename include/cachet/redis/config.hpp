#ifndef CACHET_REDIS_CONFIG_HPP
#define CACHET_REDIS_CONFIG_HPP

#include <cachet/detail/linkage.hpp>
#include <cachet/redis/error.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

namespace cachet::resp3 {

/// TLS settings of a connection (`rediss://` turns it on). Peer verification is on by default:
/// the server's certificate must chain to a trusted CA and name the host (or `sni`).
///
///   cfg.tls = {.enabled = true, .ca_file = "/etc/ssl/redis-ca.pem"};
struct tls_options {
  /// Speak TLS (OpenSSL, through Asio SSL). URL: the `rediss://` scheme.
  bool enabled = false;
  /// Verify the server's certificate chain and host name. Turn it off only for tests against
  /// self-made certificates you cannot distribute. URL: `verify=no`.
  bool verify_peer = true;
  /// PEM file of the CA certificates to trust; empty: the system's default store. URL: `ca=`.
  std::string ca_file;
  /// PEM file of the client certificate (chain), for servers with `tls-auth-clients yes`.
  /// URL: `cert=`.
  std::string cert_file;
  /// PEM file of the client certificate's private key; empty: taken from cert_file. URL: `key=`.
  std::string key_file;
  /// Server name sent in the TLS handshake (SNI) and checked against the certificate; empty:
  /// the host connected to (an IP address is checked but not sent as SNI). URL: `sni=`.
  std::string sni;
};

/// Where a Sentinel-managed master is found (`redis-sentinel://` fills it). When `addresses` is
/// not empty, config::host and port are ignored: each connection attempt asks the sentinels, in
/// turn, for the master's address (SENTINEL GET-MASTER-ADDR-BY-NAME), connects there, and
/// confirms with ROLE that it is a master. Each sentinel gets connect_timeout to accept the
/// connection and handshake_timeout to answer.
///
///   cfg.sentinel = {.addresses = {{"s1", 26379}, {"s2", 26379}}, .master_name = "mymaster"};
struct sentinel_options {
  /// One sentinel's address.
  struct address {
    std::string host;
    std::uint16_t port = 26379;
  };
  /// The sentinels to ask; the one that answered last is asked first next time.
  std::vector<address> addresses;
  /// The name the sentinels monitor the master under (`sentinel monitor <name> ...`).
  std::string master_name;
};

/// The seed nodes of a Redis Cluster (`redis-cluster://` fills it). When `seeds` is not empty,
/// config::host and port are ignored: a cachet::redis::cluster_client asks the seeds, in turn,
/// for the slot map and discovers the other nodes from it. Every node shares the rest of the
/// config (user, password, TLS, time limits); the database must be 0.
///
///   cfg.cluster = {.seeds = {{"10.0.0.1", 7000}, {"10.0.0.2", 7000}}};
struct cluster_options {
  /// One node's address.
  struct address {
    std::string host;
    std::uint16_t port = 6379;
  };
  /// Nodes to ask for the slot map; any reachable member of the cluster will do.
  std::vector<address> seeds;
};

/// Where a cachet::redis::client connects, how it identifies itself, and its time limits.
///
///   auto cfg = cachet::redis::config::from_url("redis://app:s3cret@cache.local:6380/2");
///   cfg.request_timeout = std::chrono::milliseconds(250);
///
/// A duration of zero disables that limit (no deadline, no health check).
struct config {
  /// Host name or address (IPv6 without brackets).
  std::string host = "localhost";
  /// TCP port.
  std::uint16_t port = 6379;
  /// ACL user for AUTH (empty: "default" when a password is set).
  std::string username;
  /// Password for AUTH; no AUTH is sent when empty.
  std::string password;
  /// Logical database chosen with SELECT after HELLO (skipped when 0).
  int database = 0;
  /// Sent with HELLO ... SETNAME, visible in CLIENT LIST (skipped when empty).
  std::string client_name = "cachet";
  /// Limit for resolving `host`.
  std::chrono::milliseconds resolve_timeout{2000};
  /// Limit for the TCP connect.
  std::chrono::milliseconds connect_timeout{2000};
  /// Limit for HELLO/AUTH/SETNAME/SELECT to be answered.
  std::chrono::milliseconds handshake_timeout{2000};
  /// Default deadline of a request, from the call to the reply, including any wait for a
  /// reconnect; a request_options::timeout overrides it per call.
  std::chrono::milliseconds request_timeout{1000};
  /// When nothing has been received for this long, a PING is sent; if nothing answers it within
  /// another interval the peer is deemed hung and the connection is closed and re-established.
  /// Keep it longer than the longest blocking command you run (BLPOP, DEBUG SLEEP, ...).
  std::chrono::milliseconds health_check_interval{2000};
  /// Reconnect delays: full jitter over a capped exponential (min * 2^attempt, at most max).
  std::chrono::milliseconds reconnect_min_delay{50};
  std::chrono::milliseconds reconnect_max_delay{2000};
  /// TLS; off unless enabled (`rediss://`).
  tls_options tls;
  /// Sentinel; used when it names sentinels (`redis-sentinel://`).
  sentinel_options sentinel;
  /// Cluster seeds; used by cluster_client when it names some (`redis-cluster://`).
  cluster_options cluster;

  /// Parses one of
  ///
  ///   redis://[user[:password]@]host[:port][/db]
  ///   rediss://[user[:password]@]host[:port][/db][?ca=F&cert=F&key=F&sni=NAME&verify=yes|no]
  ///   redis-sentinel://[user[:password]@]s1[:port][,s2[:port]...]/master[/db][?TLS options]
  ///   redis-cluster://[user[:password]@]n1[:port][,n2[:port]...][?TLS options]
  ///
  /// (user, password and query values percent-decoded; IPv6 hosts in brackets; a sentinel's
  /// port defaults to 26379, a cluster node's to 6379). A query on redis-sentinel:// or
  /// redis-cluster:// turns TLS on for the sentinels and the
  /// master. The user and password are for the master. Fields the URL does not name keep their
  /// defaults. Throws request_error with error::invalid_url, saying what is wrong, on bad input.
  ///
  ///   auto cfg = config::from_url("redis://:p%40ss@127.0.0.1:6379/1");  // password "p@ss", db 1
  ///   auto tls = config::from_url("rediss://cache.example:6380?ca=/etc/ssl/ca.pem");
  CACHET_DECL static config from_url(std::string_view url);

  /// from_url(getenv("CACHET_REDIS_URL")), or the defaults (localhost:6379) when it is unset.
  CACHET_DECL static config from_env();

  /// Throws cachet::error naming the first field that cannot work: a negative duration or
  /// database, reconnect_min_delay above reconnect_max_delay, sentinels without a master name,
  /// cluster seeds with a database other than 0,
  /// or a TLS file set while TLS is off. A client checks its config when it is built.
  CACHET_DECL void require_valid() const;
};

namespace detail {

[[noreturn]] CACHET_DECL void throw_invalid_url(const std::string& what);

CACHET_DECL int hex_digit(char c);

// `part` names the component in the error message; the text itself is never echoed because it
// may be a password.
CACHET_DECL std::string percent_decode(std::string_view text, std::string_view part);

template <class Int>
Int parse_decimal(std::string_view text, Int max, std::string_view part) {
  Int v{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || text.front() < '0' || text.front() > '9' || ec != std::errc{} ||
      end != text.data() + text.size() || v > max)
    throw_invalid_url(std::string(part) + " \"" + std::string(text) + "\" is not a number in 0.." +
                      std::to_string(max));
  return v;
}

}  // namespace detail

namespace detail {

// `[v6]`, `host` or either with `:port`; `default_port` when there is no port.
CACHET_DECL std::pair<std::string, std::uint16_t> parse_host_port(std::string_view text,
                                                                  std::uint16_t default_port);

// `ca=...&cert=...&key=...&sni=...&verify=yes|no` into `tls`.
CACHET_DECL void parse_tls_query(std::string_view query, tls_options& tls);

}  // namespace detail

}  // namespace cachet::resp3

#if CACHET_INCLUDE_BODIES
#include <cachet/redis/impl/config.ipp>
#endif

#endif
