#ifndef CACHET_REDIS_IMPL_CONFIG_IPP
#define CACHET_REDIS_IMPL_CONFIG_IPP

// Bodies of <cachet/redis/config.hpp>; see <cachet/detail/linkage.hpp>.

#include <cachet/redis/config.hpp>

namespace cachet::resp3 {

namespace detail {

CACHET_DECL void throw_invalid_url(const std::string& what) {
  throw request_error(make_error_code(error::invalid_url),
                      "cachet::redis::config::from_url: " + what +
                          "; expected redis://[user[:password]@]host[:port][/db], "
                          "rediss://...[?ca=&cert=&key=&sni=&verify=] or "
                          "redis-sentinel://[user[:password]@]host[:port][,host[:port]...]/"
                          "master[/db] or redis-cluster://host[:port][,host[:port]...]");
}

CACHET_DECL int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

CACHET_DECL std::string percent_decode(std::string_view text, std::string_view part) {
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

CACHET_DECL std::pair<std::string, std::uint16_t> parse_host_port(std::string_view text,
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

CACHET_DECL void parse_tls_query(std::string_view query, tls_options& tls) {
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

CACHET_DECL config config::from_url(std::string_view url) {
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

CACHET_DECL void config::require_valid() const {
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

CACHET_DECL config config::from_env() {
  const char* url = std::getenv("CACHET_REDIS_URL");
  if (url == nullptr || *url == '\0') return config{};
  return from_url(url);
}

}  // namespace cachet::resp3

#endif
