// A program built with CACHET_SEPARATE_COMPILATION, the way the README shows it: every unit
// defines the macro, one unit includes <cachet/src.hpp>. Two units use the Redis part, so a body
// compiled into more than one of them would fail the link, and one compiled into none as well.
#include <cachet/redis.hpp>

#include <boost/asio/io_context.hpp>

#include <string>

std::string first_script_sha1();

int main() {
  auto cfg = cachet::redis::config::from_url("rediss://cache.example:6380/0?verify=no");
  boost::asio::io_context io;
  cachet::redis::client client(io.get_executor(), cfg);
  const cachet::redis::script noop{"return 1"};
  bool same_name = noop.sha1() == first_script_sha1();
  return client.get_config().tls.enabled && same_name ? 0 : 1;
}
