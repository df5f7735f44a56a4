#ifndef CACHET_REDIS_CONFIG_HPP
#define CACHET_REDIS_CONFIG_HPP

#include <cachet/redis/error.hpp>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace cachet::resp3 {

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

  /// Parses `redis://[user[:password]@]host[:port][/db]` (user and password percent-decoded;
  /// IPv6 hosts in brackets). Fields the URL does not name keep their defaults.
  /// Throws request_error with error::invalid_url, saying what is wrong, on bad input.
  ///
  ///   auto cfg = config::from_url("redis://:p%40ss@127.0.0.1:6379/1");  // password "p@ss", db 1
  static config from_url(std::string_view url);

  /// from_url(getenv("CACHET_REDIS_URL")), or the defaults (localhost:6379) when it is unset.
  static config from_env();

  /// Throws cachet::error naming the first field that cannot work: a negative duration or
  /// database, or reconnect_min_delay above reconnect_max_delay. A client checks its config when
  /// it is built.
  void require_valid() const;
};

namespace detail {

[[noreturn]] inline void throw_invalid_url(const std::string& what) {
  throw request_error(make_error_code(error::invalid_url),
                      "cachet::redis::config::from_url: " + what +
                          "; expected redis://[user[:password]@]host[:port][/db]");
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

inline config config::from_url(std::string_view url) {
  constexpr std::string_view scheme = "redis://";
  if (url.substr(0, scheme.size()) != scheme) {
    if (url.substr(0, 9) == "rediss://")
      detail::throw_invalid_url("TLS (rediss://) is not supported");
    detail::throw_invalid_url("the URL must start with redis://");
  }
  std::string_view rest = url.substr(scheme.size());
  if (rest.find_first_of("?#") != std::string_view::npos)
    detail::throw_invalid_url("query parameters and fragments are not supported");

  config cfg;
  // The last '@' ends the user info, so an unescaped '@' in a password still parses.
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    auto colon = userinfo.find(':');
    cfg.username = detail::percent_decode(userinfo.substr(0, colon), "user name");
    if (colon != std::string_view::npos)
      cfg.password = detail::percent_decode(userinfo.substr(colon + 1), "password");
  }

  std::string_view hostport = rest.substr(0, rest.find('/'));
  std::string_view path =
      hostport.size() < rest.size() ? rest.substr(hostport.size() + 1) : std::string_view{};
  std::string_view host_text = hostport;
  std::string_view after_host;
  if (!hostport.empty() && hostport.front() == '[') {
    auto close = hostport.find(']');
    if (close == std::string_view::npos)
      detail::throw_invalid_url("an IPv6 host must be closed with ']'");
    host_text = hostport.substr(1, close - 1);
    after_host = hostport.substr(close + 1);
  } else if (auto colon = hostport.find(':'); colon != std::string_view::npos) {
    host_text = hostport.substr(0, colon);
    after_host = hostport.substr(colon);
  }
  cfg.host = std::string(host_text);
  if (cfg.host.empty()) detail::throw_invalid_url("the host is missing");
  if (!after_host.empty()) {
    if (after_host.front() != ':') detail::throw_invalid_url("unexpected text after the host");
    cfg.port = detail::parse_decimal<std::uint16_t>(after_host.substr(1), 65535, "port");
    if (cfg.port == 0) detail::throw_invalid_url("port 0 is not a valid port");
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
}

inline config config::from_env() {
  const char* url = std::getenv("CACHET_REDIS_URL");
  if (url == nullptr || *url == '\0') return config{};
  return from_url(url);
}

}  // namespace cachet::resp3

#endif
