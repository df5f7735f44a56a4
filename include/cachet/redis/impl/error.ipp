#ifndef CACHET_REDIS_IMPL_ERROR_IPP
#define CACHET_REDIS_IMPL_ERROR_IPP

// Bodies of <cachet/redis/error.hpp>; see <cachet/detail/linkage.hpp>.

#include <cachet/redis/error.hpp>

namespace cachet::resp3 {

namespace detail {

CACHET_DECL std::string error_category_impl::message(int value) const {
  switch (static_cast<resp3::error>(value)) {
    case resp3::error::invalid_type_byte:
      return "the server sent a reply starting with a byte that is not a RESP3 type "
             "(streamed strings and aggregates are not supported)";
    case resp3::error::invalid_number:
      return "the server sent a number that is not a valid 64-bit decimal integer";
    case resp3::error::invalid_length:
      return "the server sent a malformed length or element count (not decimal, negative "
             "other than -1, out of range, streamed, or too short for a verbatim string)";
    case resp3::error::expected_crlf:
      return "the server sent a line or string not terminated by CR LF";
    case resp3::error::invalid_boolean:
      return "the server sent a boolean other than #t or #f";
    case resp3::error::invalid_double:
      return "the server sent a double that is not a valid floating point number";
    case resp3::error::bulk_too_large:
      return "the server sent a string longer than parse_limits::max_bulk_length";
    case resp3::error::too_many_elements:
      return "the server sent an aggregate with more elements than "
             "parse_limits::max_elements";
    case resp3::error::nesting_too_deep:
      return "the server sent aggregates nested deeper than parse_limits::max_depth";
    case resp3::error::unexpected_reply:
      return "the reply has a type the caller cannot use";
    case resp3::error::resolve_timeout:
      return "resolving the Redis host name timed out";
    case resp3::error::connect_timeout:
      return "connecting to the Redis server timed out";
    case resp3::error::handshake_timeout:
      return "the HELLO/AUTH/SELECT handshake with the Redis server timed out";
    case resp3::error::handshake_failed:
      return "the Redis server refused the HELLO/AUTH/SELECT handshake";
    case resp3::error::not_connected:
      return "the request was made while not connected to Redis and was not queued";
    case resp3::error::connection_lost:
      return "the connection was lost before the request was written; it had no effect";
    case resp3::error::outcome_unknown:
      return "the connection was lost after the request was written; it may or may not "
             "have taken effect";
    case resp3::error::request_timeout:
      return "the request's deadline passed before the reply arrived";
    case resp3::error::health_check_failed:
      return "the Redis server did not answer the health-check PING in time";
    case resp3::error::cancelled:
      return "the operation was cancelled";
    case resp3::error::server_error:
      return "the Redis server answered with an error reply";
    case resp3::error::queue_full:
      return "the pub/sub receive queue is full; messages were dropped";
    case resp3::error::invalid_url:
      return "the Redis URL is malformed";
    case resp3::error::blocking_call_on_io_thread:
      return "a blocking call was made on the Redis client's own I/O thread (it would "
             "deadlock)";
    case resp3::error::tls_handshake_failed:
      return "the TLS handshake with the Redis server failed";
    case resp3::error::sentinel_unavailable:
      return "no Redis Sentinel answered with the master's address";
    case resp3::error::not_master:
      return "the Redis server named by Sentinel is not a master (a failover is under way)";
    case resp3::error::cluster_unavailable:
      return "no Redis Cluster node answered with a slot map covering the key's slot";
    case resp3::error::too_many_redirects:
      return "the Redis Cluster redirected the request more often than allowed";
  }
  return "unknown cachet.redis error " + std::to_string(value);
}

}  // namespace detail

CACHET_DECL const std::error_category& error_category() noexcept {
  // Built in static storage and never destroyed: codes are still read while other statics, such
  // as the process-wide backend, shut down at exit. No heap either, so the first error a parser
  // reports allocates nothing.
  alignas(detail::error_category_impl) static unsigned char
      storage[sizeof(detail::error_category_impl)];
  static const auto* const instance =
      ::new (static_cast<void*>(storage)) detail::error_category_impl();
  return *instance;
}

}  // namespace cachet::resp3

#endif
