#include <cachet/redis/config.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace {

using cachet::resp3::config;

// Expects from_url to throw request_error(invalid_url) whose message contains `needle`.
void expect_invalid(const std::string& url, const std::string& needle) {
  try {
    (void)config::from_url(url);
    ADD_FAILURE() << "accepted: " << url;
  } catch (const cachet::resp3::request_error& e) {
    EXPECT_EQ(e.code(), cachet::resp3::error::invalid_url) << url;
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << url << " -> " << e.what();
  }
}

// Expects require_valid() to throw cachet::error whose message contains `needle`.
void expect_unusable(const config& cfg, const std::string& needle) {
  try {
    cfg.require_valid();
    ADD_FAILURE() << "accepted a config with " << needle;
  } catch (const cachet::error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("cachet::redis::config: " + needle, 0), 0u) << e.what();
  }
}

TEST(RedisConfig, DefaultsAreSensible) {
  config cfg;
  EXPECT_EQ(cfg.host, "localhost");
  EXPECT_EQ(cfg.port, 6379);
  EXPECT_EQ(cfg.database, 0);
  EXPECT_EQ(cfg.client_name, "cachet");
  EXPECT_GT(cfg.request_timeout.count(), 0);
  EXPECT_LE(cfg.reconnect_min_delay, cfg.reconnect_max_delay);
}

using address_list = std::vector<std::pair<std::string, std::uint16_t>>;

// One URL and every field it must set; fields not listed keep their defaults.
struct url_case {
  std::string url;
  std::string host = "localhost";
  std::uint16_t port = 6379;
  std::string username = {};
  std::string password = {};
  int database = 0;
  bool tls = false;
  bool verify_peer = true;
  std::string ca_file = {};
  std::string cert_file = {};
  std::string key_file = {};
  std::string sni = {};
  address_list sentinels = {};
  std::string master_name = {};
  address_list seeds = {};
};

template <class Addresses>
address_list listed(const Addresses& addresses) {
  address_list out;
  for (const auto& a : addresses) out.emplace_back(a.host, a.port);
  return out;
}

TEST(RedisConfig, UrlsSetTheirFields) {
  const url_case cases[] = {
      {.url = "redis://cache.example", .host = "cache.example"},
      {.url = "redis://app:s3cret@10.0.0.7:6380/5",
       .host = "10.0.0.7",
       .port = 6380,
       .username = "app",
       .password = "s3cret",
       .database = 5},
      {.url = "redis://:pw@h", .host = "h", .password = "pw"},
      {.url = "redis://someone@h:1", .host = "h", .port = 1, .username = "someone"},
      {.url = "redis://us%65r%3Aname:p%40ss%2Fw%3a%25rd@h",
       .host = "h",
       .username = "user:name",
       .password = "p@ss/w:%rd"},
      // An unescaped '@' in the password: the last '@' ends the credentials.
      {.url = "redis://u:p@ss@h:7", .host = "h", .port = 7, .username = "u", .password = "p@ss"},
      {.url = "redis://[::1]:6390/2", .host = "::1", .port = 6390, .database = 2},
      {.url = "redis://[fe80::1]", .host = "fe80::1"},
      {.url = "redis://h/", .host = "h"},
      {.url = "rediss://cache.example", .host = "cache.example", .tls = true},
      {.url = "rediss://user:pw@cache.example:6380/0?ca=/etc/ssl/ca.pem",
       .host = "cache.example",
       .port = 6380,
       .username = "user",
       .password = "pw",
       .tls = true,
       .ca_file = "/etc/ssl/ca.pem"},
      {.url = "rediss://h:1/2?ca=%2Ftmp%2Fa%20b.pem&cert=c.pem&key=k.pem&sni=redis.internal",
       .host = "h",
       .port = 1,
       .database = 2,
       .tls = true,
       .ca_file = "/tmp/a b.pem",
       .cert_file = "c.pem",
       .key_file = "k.pem",
       .sni = "redis.internal"},
      {.url = "rediss://[::1]:6390?verify=no",
       .host = "::1",
       .port = 6390,
       .tls = true,
       .verify_peer = false},
      {.url = "rediss://h?verify=yes", .host = "h", .tls = true},
      {.url = "redis-sentinel://s1:26379,s2:26380/mymaster",
       .sentinels = {{"s1", 26379}, {"s2", 26380}},
       .master_name = "mymaster"},
      {.url = "redis-sentinel://s1/mymaster",
       .sentinels = {{"s1", 26379}},
       .master_name = "mymaster"},
      {.url = "redis-sentinel://app:pw@[::1]:5000,s2/my%20master/3?ca=ca.pem",
       .username = "app",
       .password = "pw",
       .database = 3,
       .tls = true,
       .ca_file = "ca.pem",
       .sentinels = {{"::1", 5000}, {"s2", 26379}},
       .master_name = "my master"},
      {.url = "redis-cluster://app:pw@10.0.0.1:7000,[::1]:7001,n3",
       .username = "app",
       .password = "pw",
       .seeds = {{"10.0.0.1", 7000}, {"::1", 7001}, {"n3", 6379}}},
      {.url = "redis-cluster://n1:7000?ca=ca.pem",
       .tls = true,
       .ca_file = "ca.pem",
       .seeds = {{"n1", 7000}}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.url);
    const auto cfg = config::from_url(c.url);
    EXPECT_EQ(cfg.host, c.host);
    EXPECT_EQ(cfg.port, c.port);
    EXPECT_EQ(cfg.username, c.username);
    EXPECT_EQ(cfg.password, c.password);
    EXPECT_EQ(cfg.database, c.database);
    EXPECT_EQ(cfg.tls.enabled, c.tls);
    EXPECT_EQ(cfg.tls.verify_peer, c.verify_peer);
    EXPECT_EQ(cfg.tls.ca_file, c.ca_file);
    EXPECT_EQ(cfg.tls.cert_file, c.cert_file);
    EXPECT_EQ(cfg.tls.key_file, c.key_file);
    EXPECT_EQ(cfg.tls.sni, c.sni);
    EXPECT_EQ(listed(cfg.sentinel.addresses), c.sentinels);
    EXPECT_EQ(cfg.sentinel.master_name, c.master_name);
    EXPECT_EQ(listed(cfg.cluster.seeds), c.seeds);
    EXPECT_NO_THROW(cfg.require_valid());
  }
}

TEST(RedisConfig, RejectsBadUrlsWithAReason) {
  const std::pair<std::string, std::string> cases[] = {
      {"http://h", "must start with redis://"},
      {"", "must start with redis://"},
      {"redis://", "host is missing"},
      {"redis://:6379", "host is missing"},
      {"redis://u:p@", "host is missing"},
      {"redis://h:", "port"},
      {"redis://h:65536", "port \"65536\""},
      {"redis://h:0", "port 0"},
      {"redis://h:12ab", "port \"12ab\""},
      {"redis://h:-1", "port \"-1\""},
      {"redis://h/x", "database \"x\""},
      {"redis://h/-3", "database \"-3\""},
      {"redis://h/1/2", "database \"1/2\""},
      {"redis://h?db=1", "query parameters are TLS options: use rediss://"},
      {"redis://[::1", "']'"},
      {"redis://[::1]x", "after the host"},
      {"redis://u:p%4@h", "percent-escape in the password"},
      {"redis://u%zz@h", "percent-escape in the user name"},
      {"rediss://h?ca", "query parameter \"ca\" has no '='"},
      {"rediss://h?cipher=x",
       "unknown query parameter \"cipher\" (known: ca, cert, key, sni, verify)"},
      {"rediss://h?verify=maybe", "verify must be yes or no"},
      {"rediss://h?ca=%zz", "percent-escape in the query"},
      {"rediss://", "host is missing"},
      {"rediss://h#x", "fragments"},
      {"redis-sentinel://s1:26379", "master name is missing"},
      {"redis-sentinel://s1:26379/", "master name is missing"},
      {"redis-sentinel:///mymaster", "host is missing"},
      {"redis-sentinel://s1,,s2/m", "host is missing"},
      {"redis-sentinel://s1:0/m", "port 0"},
      {"redis-sentinel://s1:x/m", "port \"x\""},
      {"redis-sentinel://s1/m/x", "database \"x\""},
      {"redis-sentinel://s1/m?bad=1", "unknown query parameter \"bad\""},
      {"redis-cluster://", "host is missing"},
      {"redis-cluster://n1,,n2", "host is missing"},
      {"redis-cluster://n1:x", "port \"x\""},
      {"redis-cluster://n1/1", "a cluster has only database 0"},
      {"redis-cluster://n1?bad=1", "unknown query parameter \"bad\""},
  };
  for (const auto& [url, needle] : cases) expect_invalid(url, needle);
}

TEST(RedisConfig, ErrorMessageNeverEchoesThePassword) {
  try {
    (void)config::from_url("redis://u:topsecret%G1@h");
    FAIL() << "accepted";
  } catch (const cachet::resp3::request_error& e) {
    EXPECT_EQ(std::string(e.what()).find("topsecret"), std::string::npos) << e.what();
  }
}

TEST(RedisConfig, IsACachetError) { EXPECT_THROW((void)config::from_url("nope"), cachet::error); }

TEST(RedisConfig, FromEnv) {
  ::setenv("CACHET_REDIS_URL", "redis://envhost:7001/3", 1);
  auto cfg = config::from_env();
  EXPECT_EQ(cfg.host, "envhost");
  EXPECT_EQ(cfg.port, 7001);
  EXPECT_EQ(cfg.database, 3);
  ::unsetenv("CACHET_REDIS_URL");
  EXPECT_EQ(config::from_env().host, "localhost");
  ::setenv("CACHET_REDIS_URL", "bad", 1);
  EXPECT_THROW((void)config::from_env(), cachet::resp3::request_error);
  ::unsetenv("CACHET_REDIS_URL");
}

TEST(RedisConfig, UnusableFieldsAreRefusedNamingTheField) {
  using std::chrono::milliseconds;
  // How a default config is spoilt, and the start of the message that must name it.
  const std::pair<void (*)(config&), std::string> cases[] = {
      {[](config& c) { c.request_timeout = milliseconds(-1); },
       "request_timeout is negative (-1 ms)"},
      {[](config& c) { c.connect_timeout = milliseconds(-5); }, "connect_timeout is negative"},
      {[](config& c) { c.health_check_interval = milliseconds(-5); },
       "health_check_interval is negative"},
      {[](config& c) { c.database = -1; }, "database is negative (-1)"},
      {[](config& c) {
         c.reconnect_min_delay = milliseconds(500);
         c.reconnect_max_delay = milliseconds(100);
       },
       "reconnect_min_delay is above reconnect_max_delay"},
      {[](config& c) {
         c.sentinel.addresses = {{"s1", 26379}};
       },
       "sentinel.addresses is set but sentinel.master_name is empty"},
      {[](config& c) { c.tls.ca_file = "ca.pem"; },
       "TLS files or sni are set but tls.enabled is false"},
      {[](config& c) {
         c.tls.enabled = true;
         c.tls.key_file = "k.pem";
       },
       "tls.key_file is set without tls.cert_file"},
      {[](config& c) {
         c.cluster.seeds = {{"n1", 7000}};
         c.database = 2;
       },
       "cluster.seeds is set with database 2"},
  };
  for (const auto& [spoil, needle] : cases) {
    config cfg;
    spoil(cfg);
    expect_unusable(cfg, needle);
  }
}

TEST(RedisConfig, ZeroTimeoutsMeanNoDeadline) {
  config cfg;
  EXPECT_NO_THROW(cfg.require_valid());
  cfg.request_timeout = std::chrono::milliseconds(0);
  cfg.health_check_interval = std::chrono::milliseconds(0);
  EXPECT_NO_THROW(cfg.require_valid());
}

}  // namespace
