#ifndef CACHET_DETAIL_REDIS_TRANSPORT_HPP
#define CACHET_DETAIL_REDIS_TRANSPORT_HPP

// The byte stream under a connection: a TCP socket, or TLS (OpenSSL through Asio SSL) over one.
// The connection reads and writes through it without knowing which; only connecting differs
// (tls_handshake() after the TCP connect).

#include <cachet/detail/linkage.hpp>
#include <cachet/error.hpp>
#include <cachet/redis/config.hpp>

// OpenSSL and Asio SSL are included by impl/transport.ipp only: a unit compiled under
// CACHET_SEPARATE_COMPILATION never touches TLS, so it does not parse them.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

namespace cachet::resp3::detail {

namespace asio = boost::asio;

/// OpenSSL's state for one transport: the context of its tls_options and the stream of the
/// current connection. Defined in impl/transport.ipp.
struct tls_session;

/// A TCP socket, or a TLS stream over one; an AsyncReadStream and AsyncWriteStream either way.
/// The templates that read, write and shake hands are defined in impl/transport.ipp, beside the
/// connection bodies that use them.
class transport {
 public:
  using executor_type = asio::any_io_executor;
  using socket_type = asio::ip::tcp::socket;

  /// Throws cachet::error when the TLS files of `tls` cannot be loaded.
  CACHET_DECL transport(const executor_type& ex, const tls_options& tls);
  CACHET_DECL ~transport();
  transport(const transport&) = delete;
  transport& operator=(const transport&) = delete;

  executor_type get_executor() const noexcept { return executor_; }

  /// The TCP socket to connect, set options on, and close.
  CACHET_DECL socket_type& socket() noexcept;
  CACHET_DECL bool is_open() const noexcept;

  /// Fresh, unconnected socket (and TLS session) for the next connection attempt.
  CACHET_DECL void renew();

  // As on a socket. No TLS close_notify is sent: the peer learns of the end from the TCP close,
  // and a hung peer cannot delay it.
  CACHET_DECL void shutdown(socket_type::shutdown_type what, boost::system::error_code& ec);
  CACHET_DECL void close(boost::system::error_code& ec);

  /// After the TCP connect to `host`: the TLS handshake (nothing without TLS). The certificate is
  /// checked against tls_options::sni, else `host`; the same name goes out as SNI unless it is
  /// an IP address. On failure, failure() holds OpenSSL's reason. A coroutine on `Executor`, the
  /// executor of the connection's own coroutines (awaitables only await their own kind).
  template <class Executor>
  asio::awaitable<std::error_code, Executor> tls_handshake(const std::string& host);

  /// Why the last tls_handshake() failed, in OpenSSL's words.
  const std::string& failure() const noexcept { return failure_; }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token);

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token);

  /// Writes what the socket takes at once, without waiting: the bytes written; 0 when it would
  /// block, on an error (left for the next asynchronous write to meet) and always under TLS,
  /// whose records cannot be handed over in part. A write that completes here saves the turn
  /// through the io_context that an asynchronous write's completion costs.
  CACHET_DECL std::size_t write_now(std::string_view data) noexcept;

  /// Whether the bytes are TCP's own (no TLS), so that a caller may wait for them and read them
  /// on its own thread (wait_readable(), read_now()).
  bool plain() const noexcept { return !tls_; }

  /// Blocks the calling thread until the plain socket has something to read (or an error, or
  /// the peer's close) or `deadline` passes: whether it has. Only for a socket no asynchronous
  /// read waits on, and never under TLS.
  CACHET_DECL bool wait_readable(std::chrono::steady_clock::time_point deadline) noexcept;

  /// Reads what the plain socket holds, without waiting: the bytes read, 0 with `ec` set when
  /// nothing has arrived (would_block), at the peer's close (eof) or on an error.
  CACHET_DECL std::size_t read_now(char* data, std::size_t size,
                                   boost::system::error_code& ec) noexcept;

 private:
  executor_type executor_;
  tls_options tls_options_;
  socket_type plain_;
  // Null without TLS, so plain TCP pays no indirection; with TLS, one allocation per transport,
  // as the shared context alone used to be.
  std::unique_ptr<tls_session> tls_;
  std::string failure_;
};

}  // namespace cachet::resp3::detail

#if CACHET_INCLUDE_BODIES
#include <cachet/detail/redis/impl/transport.ipp>
#endif

#endif
