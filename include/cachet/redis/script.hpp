#ifndef CACHET_REDIS_SCRIPT_HPP
#define CACHET_REDIS_SCRIPT_HPP

#include <cachet/detail/linkage.hpp>
#include <cachet/redis/client.hpp>
#include <cachet/redis/error.hpp>
#include <cachet/redis/request.hpp>
#include <cachet/redis/resp3.hpp>

#include <boost/asio/awaitable.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cachet::resp3 {

namespace detail {

/// SHA-1 (FIPS 180-4) of `data` as 40 lower-case hex digits: the name Redis gives a Lua script.
/// Not for security: Redis uses it only as a cache key.
CACHET_DECL std::string sha1_hex(std::string_view data);

}  // namespace detail

/// A Lua script run by its SHA-1 (EVALSHA), sent in full (EVAL) only when the server does not
/// know it yet (NOSCRIPT), which also caches it there.
///
///   static const cachet::redis::script incr_capped{
///       "local v = redis.call('INCR', KEYS[1]) if v > tonumber(ARGV[1]) then "
///       "redis.call('SET', KEYS[1], ARGV[1]) return tonumber(ARGV[1]) end return v"};
///   std::vector<std::string> keys{"counter"}, args{"10"};
///   value v = co_await incr_capped.exec(c, keys, args);
class script {
 public:
  /// Computes the SHA-1 locally; nothing is sent until exec().
  explicit script(std::string source)
      : source_(std::move(source)), sha1_(detail::sha1_hex(source_)) {}

  /// The Lua source.
  const std::string& source() const noexcept { return source_; }
  /// Its SHA-1 in lower-case hex, as SCRIPT LOAD would return it.
  const std::string& sha1() const noexcept { return sha1_; }

  /// Runs the script with KEYS = `keys` and ARGV = `args`. A Lua error or a server error reply
  /// throws server_error; transport problems throw request_error (as client::exec). The script
  /// must outlive the returned awaitable; `keys` and `args` are copied.
  ///   std::vector<std::string> keys{"counter"}, args{"10"};
  ///   value v = co_await s.exec(c, keys, args);
  /// (g++ 12 rejects braced lists inside a co_await expression, "array used as initializer": name
  /// the vectors as above.)
  boost::asio::awaitable<value> exec(client& c, const std::vector<std::string>& keys = {},
                                     const std::vector<std::string>& args = {},
                                     const request_options& options = {}) const {
    return run(c, keys, args, options);
  }

 private:
  CACHET_DECL boost::asio::awaitable<value> run(client& c, std::vector<std::string> keys,
                                                std::vector<std::string> args,
                                                request_options options) const;

  std::string source_;
  std::string sha1_;
};

}  // namespace cachet::resp3

#if CACHET_INCLUDE_BODIES
#include <cachet/redis/impl/script.ipp>
#endif

#endif
