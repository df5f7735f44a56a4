#ifndef CACHET_REDIS_CONFIG_HPP
#define CACHET_REDIS_CONFIG_HPP

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
  static config from_url(std::string_view url);

  /// from_url(getenv("CACHET_REDIS_URL")), or the defaults (localhost:6379) when it is unset.
  static config from_env();

  /// Throws cachet::error naming the first field that cannot work: a negative duration or
  /// database, reconnect_min_delay above reconnect_max_delay, sentinels without a master name,
  /// cluster seeds with a database other than 0,
  /// or a TLS file set while TLS is off. A client checks its config when it is built.
  void require_valid() const;
};

namespace detail {

[[noreturn]] inline void throw_invalid_url(const std::string& what) {
  throw request_error(make_error_code(error::invalid_url),
                      "cachet::redis::config::from_url: " + what +
                          "; expected redis://[user[:password]@]host[:port][/db], "
                          "rediss://...[?ca=&cert=&key=&sni=&verify=] or "
                          "redis-sentinel://[user[:password]@]host[:port][,host[:port]...]/"
                          "master[/db] or redis-cluster://host[:port][,host[:port]...]");
}

inline int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// `part` names the component in the error message; the text itself is never echoed because it
// may be a password.
inline std::string percent_decode(std::string_view text, std::string_view part) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    int hi = i + 2 < text.size() ? hex_digit(text[i + 1]) : -1;
    int lo = i + 2 < text.size() ? hex_digit(text[i + 2]) : -1;
    if (hi < 0 || lo < 0)
      throw_invalid_url("bad percent-escape in the " + std::string(part) + " at offset " +
                        std::to_string(i) + " (use %XX with two hex digits)");
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

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
inline std::pair<std::string, std::uint16_t> parse_host_port(std::string_view text,
                                                             std::uint16_t default_port) {
  std::string_view host_text = text;
  std::string_view after_host;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) throw_invalid_url("an IPv6 host must be closed with ']'");
    host_text = text.substr(1, close - 1);
    after_host = text.substr(close + 1);
  } else if (auto colon = text.find(':'); colon != std::string_view::npos) {
    host_text = text.substr(0, colon);
    after_host = text.substr(colon);
  }
  if (host_text.empty()) throw_invalid_url("the host is missing");
  std::uint16_t port = default_port;
  if (!after_host.empty()) {
    if (after_host.front() != ':') throw_invalid_url("unexpected text after the host");
    port = parse_decimal<std::uint16_t>(after_host.substr(1), 65535, "port");
    if (port == 0) throw_invalid_url("port 0 is not a valid port");
  }
  return {std::string(host_text), port};
}

// `ca=...&cert=...&key=...&sni=...&verify=yes|no` into `tls`.
inline void parse_tls_query(std::string_view query, tls_options& tls) {
  while (!query.empty()) {
    std::string_view pair = query.substr(0, query.find('&'));
    query.remove_prefix(std::min(query.size(), pair.size() + 1));
    auto eq = pair.find('=');
    if (eq == std::string_view::npos)
      throw_invalid_url("query parameter \"" + std::string(pair) + "\" has no '='");
    std::string_view name = pair.substr(0, eq);
    std::string value = percent_decode(pair.substr(eq + 1), "query");
    if (name == "ca") {
      tls.ca_file = std::move(value);
    } else if (name == "cert") {
      tls.cert_file = std::move(value);
    } else if (name == "key") {
      tls.key_file = std::move(value);
    } else if (name == "sni") {
      tls.sni = std::move(value);
    } else if (name == "verify") {
      if (value != "yes" && value != "no")
        throw_invalid_url("verify must be yes or no, not \"" + value + "\"");
      tls.verify_peer = value == "yes";
    } else {
      throw_invalid_url("unknown query parameter \"" + std::string(name) +
                        "\" (known: ca, cert, key, sni, verify)");
    }
  }
}

}  // namespace detail

inline config config::from_url(std::string_view url) {
  constexpr std::string_view plain_scheme = "redis://";
  constexpr std::string_view tls_scheme = "rediss://";
  constexpr std::string_view sentinel_scheme = "redis-sentinel://";
  constexpr std::string_view cluster_scheme = "redis-cluster://";
  config cfg;
  std::string_view rest;
  bool sentinel = false;
  bool cluster = false;
  if (url.starts_with(plain_scheme)) {
    rest = url.substr(plain_scheme.size());
  } else if (url.starts_with(tls_scheme)) {
    rest = url.substr(tls_scheme.size());
    cfg.tls.enabled = true;
  } else if (url.starts_with(sentinel_scheme)) {
    rest = url.substr(sentinel_scheme.size());
    sentinel = true;
  } else if (url.starts_with(cluster_scheme)) {
    rest = url.substr(cluster_scheme.size());
    cluster = true;
  } else {
    detail::throw_invalid_url(
        "the URL must start with redis://, rediss://, redis-sentinel:// or redis-cluster://");
  }
  if (rest.find('#') != std::string_view::npos)
    detail::throw_invalid_url("fragments are not supported");
  if (auto question = rest.find('?'); question != std::string_view::npos) {
    if (!cfg.tls.enabled && !sentinel && !cluster)
      detail::throw_invalid_url("query parameters are TLS options: use rediss://");
    detail::parse_tls_query(rest.substr(question + 1), cfg.tls);
    cfg.tls.enabled = true;
    rest = rest.substr(0, question);
  }

  // The last '@' ends the user info, so an unescaped '@' in a password still parses.
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    auto colon = userinfo.find(':');
    cfg.username = detail::percent_decode(userinfo.substr(0, colon), "user name");
    if (colon != std::string_view::npos)
      cfg.password = detail::percent_decode(userinfo.substr(colon + 1), "password");
  }

  std::string_view hosts = rest.substr(0, rest.find('/'));
  std::string_view path =
      hosts.size() < rest.size() ? rest.substr(hosts.size() + 1) : std::string_view{};
  if (sentinel) {
    for (std::string_view list = hosts;;) {
      std::string_view one = list.substr(0, list.find(','));
      auto [host, port] = detail::parse_host_port(one, 26379);
      cfg.sentinel.addresses.push_back({std::move(host), port});
      if (one.size() == list.size()) break;
      list.remove_prefix(one.size() + 1);
    }
    std::string_view name = path.substr(0, path.find('/'));
    if (name.empty()) detail::throw_invalid_url("the master name is missing (after the sentinels)");
    cfg.sentinel.master_name = detail::percent_decode(name, "master name");
    path = name.size() < path.size() ? path.substr(name.size() + 1) : std::string_view{};
  } else if (cluster) {
    for (std::string_view list = hosts;;) {
      std::string_view one = list.substr(0, list.find(','));
      auto [host, port] = detail::parse_host_port(one, 6379);
      cfg.cluster.seeds.push_back({std::move(host), port});
      if (one.size() == list.size()) break;
      list.remove_prefix(one.size() + 1);
    }
    if (!path.empty())
      detail::throw_invalid_url("a cluster has only database 0: drop the path after the nodes");
  } else {
    std::tie(cfg.host, cfg.port) = detail::parse_host_port(hosts, 6379);
  }
  if (!path.empty()) cfg.database = detail::parse_decimal<int>(path, 1 << 30, "database");
  return cfg;
}

inline void config::require_valid() const {
  const std::pair<std::chrono::milliseconds, std::string_view> durations[] = {
      {resolve_timeout, "resolve_timeout"},
      {connect_timeout, "connect_timeout"},
      {handshake_timeout, "handshake_timeout"},
      {request_timeout, "request_timeout"},
      {health_check_interval, "health_check_interval"},
      {reconnect_min_delay, "reconnect_min_delay"},
      {reconnect_max_delay, "reconnect_max_delay"}};
  for (const auto& [value, field] : durations) {
    if (value.count() < 0) {
      throw cachet::error("cachet::redis::config: " + std::string(field) + " is negative (" +
                          std::to_string(value.count()) + " ms); give 0 or a positive duration");
    }
  }
  if (database < 0) {
    throw cachet::error("cachet::redis::config: database is negative (" + std::to_string(database) +
                        "); give a database index of 0 or more");
  }
  if (reconnect_min_delay > reconnect_max_delay) {
    throw cachet::error(
        "cachet::redis::config: reconnect_min_delay is above reconnect_max_delay; make the "
        "minimum the smaller one");
  }
  if (!sentinel.addresses.empty() && sentinel.master_name.empty()) {
    throw cachet::error(
        "cachet::redis::config: sentinel.addresses is set but sentinel.master_name is empty; name "
        "the master the sentinels monitor");
  }
  if (!cluster.seeds.empty() && database != 0) {
    throw cachet::error("cachet::redis::config: cluster.seeds is set with database " +
                        std::to_string(database) +
                        "; a Redis Cluster has only database 0: set database to 0");
  }
  if (!tls.enabled &&
      !(tls.ca_file.empty() && tls.cert_file.empty() && tls.key_file.empty() && tls.sni.empty())) {
    throw cachet::error(
        "cachet::redis::config: TLS files or sni are set but tls.enabled is false; set "
        "tls.enabled (rediss://) or clear them");
  }
  if (tls.cert_file.empty() && !tls.key_file.empty()) {
    throw cachet::error(
        "cachet::redis::config: tls.key_file is set without tls.cert_file; give the client "
        "certificate too");
  }
}

inline config config::from_env() {
  const char* url = std::getenv("CACHET_REDIS_URL");
  if (url == nullptr || *url == '\0') return config{};
  return from_url(url);
}

}  // namespace cachet::resp3

#endif
