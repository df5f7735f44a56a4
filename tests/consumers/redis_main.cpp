// The smallest use of cachet's Redis part, compiled by the consumer tests: it must link with what
// the README says (cachet::redis in CMake; -lboost_json -lssl -lcrypto -pthread by hand), TLS
// included. It connects nowhere: a client connects on first use.
#include <cachet/redis.hpp>

#include <boost/asio/io_context.hpp>

int main() {
  auto cfg = cachet::redis::config::from_url("rediss://cache.example:6380/0?verify=no");
  boost::asio::io_context io;
  cachet::redis::client client(io.get_executor(), cfg);
  return client.get_config().tls.enabled ? 0 : 1;
}
