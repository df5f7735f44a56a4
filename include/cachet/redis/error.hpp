#ifndef CACHET_REDIS_ERROR_HPP
#define CACHET_REDIS_ERROR_HPP

#include <cachet/detail/linkage.hpp>
#include <cachet/error.hpp>

#include <boost/system/is_error_code_enum.hpp>

#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

namespace cachet::resp3 {

/// Everything that can go wrong in cachet's Redis client, as an error code.
/// Converts to both `std::error_code` and `boost::system::error_code`:
///   std::error_code ec = cachet::redis::error::request_timeout;
///   if (ec == cachet::redis::error::request_timeout) { ... }
/// The values start at 1 so that no value means "success".
enum class error {
  // Protocol: malformed or unacceptable bytes from the server (reported by the parser).
  invalid_type_byte = 1,  ///< a reply starts with a byte that is no RESP3 type (or a streamed part)
  invalid_number,         ///< a number (`:`) or big number (`(`) is not a valid decimal integer
  invalid_length,     ///< a length or count is malformed, negative other than -1, or out of range
  expected_crlf,      ///< a line or blob is not terminated by CR LF where the protocol requires it
  invalid_boolean,    ///< a boolean (`#`) is neither `t` nor `f`
  invalid_double,     ///< a double (`,`) is not a valid floating point number
  bulk_too_large,     ///< a string is longer than parse_limits::max_bulk_length
  too_many_elements,  ///< an aggregate announces more elements than parse_limits::max_elements
  nesting_too_deep,   ///< aggregates nest deeper than parse_limits::max_depth
  unexpected_reply,   ///< a reply of a type the caller cannot use
  // Connection and request (reported by the client).
  resolve_timeout,             ///< resolving the server's host name took too long
  connect_timeout,             ///< the TCP connection was not established in time
  handshake_timeout,           ///< HELLO/AUTH/SELECT did not complete in time
  handshake_failed,            ///< the server refused HELLO, AUTH or SELECT
  not_connected,               ///< a request was made while disconnected and not queued
  connection_lost,             ///< the connection dropped before the request was written
  outcome_unknown,             ///< the request was written, the connection dropped before the reply
  request_timeout,             ///< the request's deadline passed (a late reply is discarded)
  health_check_failed,         ///< PING was not answered in time: the peer hangs
  cancelled,                   ///< the operation was cancelled
  server_error,                ///< the server answered with an error reply
  queue_full,                  ///< the pub/sub receive queue overflowed
  invalid_url,                 ///< the Redis URL could not be parsed
  blocking_call_on_io_thread,  ///< a blocking call was made on the client's own I/O thread
  tls_handshake_failed,  ///< the TLS handshake failed (certificate not verified, no client cert)
  sentinel_unavailable,  ///< no sentinel answered with the master's address
  not_master,            ///< the server Sentinel named is not (or no longer) a master
  cluster_unavailable,   ///< no cluster node answered with the slot map, or a slot has no owner
  too_many_redirects,    ///< a cluster request was redirected (MOVED/ASK/TRYAGAIN) too often
};

}  // namespace cachet::resp3

// Specialised before any conversion of the enum is used, so every use sees them.
namespace std {
template <>
struct is_error_code_enum<cachet::resp3::error> : true_type {};
}  // namespace std

namespace boost::system {
template <>
struct is_error_code_enum<cachet::resp3::error> : std::true_type {};
}  // namespace boost::system

namespace cachet::resp3 {

namespace detail {

class error_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "cachet.redis"; }

  CACHET_DECL std::string message(int value) const override;
};

}  // namespace detail

/// The category of every cachet::redis::error value; its name() is "cachet.redis".
CACHET_DECL const std::error_category& error_category() noexcept;

/// Makes `std::error_code ec = error::x;` work (found by argument-dependent lookup).
inline std::error_code make_error_code(error e) noexcept {
  return {static_cast<int>(e), error_category()};
}

/// The base of the Redis client's exceptions: a failed request or connection, with its code.
///   try { ... } catch (const cachet::redis::request_error& e) { log(e.code(), e.what()); }
class request_error : public cachet::error {
 public:
  /// `what` says what happened and what to do about it.
  request_error(std::error_code code, const std::string& what) : cachet::error(what), code_(code) {}

  /// what() is "cachet::redis: " followed by the code's message.
  explicit request_error(std::error_code code)
      : request_error(code, "cachet::redis: " + code.message()) {}

  /// The reason, normally a cachet::redis::error.
  std::error_code code() const noexcept { return code_; }

 private:
  std::error_code code_;
};

/// The server answered with an error reply; code() is error::server_error.
///   catch (const cachet::redis::server_error& e) { if
///   (e.server_message().starts_with("WRONGTYPE")) ... }
class server_error : public request_error {
 public:
  /// `server_message` is the server's text verbatim, e.g. "WRONGTYPE Operation against a key ...".
  explicit server_error(std::string server_message)
      : request_error(resp3::error::server_error,
                      "cachet::redis: the server answered with an error: " + server_message),
        // Shared, so copying the exception cannot throw; kept apart from what(), which would
        // cut a blob error at its first NUL byte.
        server_message_(std::make_shared<const std::string>(std::move(server_message))) {}

  /// The server's error text, verbatim.
  std::string_view server_message() const noexcept { return *server_message_; }

 private:
  std::shared_ptr<const std::string> server_message_;
};

/// The server sent bytes that are not valid RESP3 (or exceed the parse limits); the connection
/// cannot be used any more. code() is one of the protocol values of cachet::redis::error.
class protocol_error : public request_error {
 public:
  using request_error::request_error;
};

}  // namespace cachet::resp3

#if CACHET_INCLUDE_BODIES
#include <cachet/redis/impl/error.ipp>
#endif

#endif
