#ifndef CACHET_DETAIL_REDIS_TRANSPORT_HPP
#define CACHET_DETAIL_REDIS_TRANSPORT_HPP

// The byte stream under a connection: a TCP socket, or TLS (OpenSSL through Asio SSL) over one.
// The connection reads and writes through it without knowing which; only connecting differs
// (tls_handshake() after the TCP connect).

#include <cachet/detail/linkage.hpp>
#include <cachet/error.hpp>
#include <cachet/redis/config.hpp>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

namespace cachet::resp3::detail {

namespace asio = boost::asio;

/// The OpenSSL context of `tls`, or null when TLS is off. Throws cachet::error naming the file
/// that cannot be loaded, with OpenSSL's reason.
CACHET_DECL std::shared_ptr<asio::ssl::context> make_tls_context(const tls_options& tls);

/// A TCP socket, or a TLS stream over one; an AsyncReadStream and AsyncWriteStream either way.
class transport {
 public:
  using executor_type = asio::any_io_executor;
  using socket_type = asio::ip::tcp::socket;
  using tls_stream_type = asio::ssl::stream<socket_type>;

  /// Throws cachet::error when the TLS files of `tls` cannot be loaded.
  CACHET_DECL transport(const executor_type& ex, const tls_options& tls);

  executor_type get_executor() const noexcept { return executor_; }

  /// The TCP socket to connect, set options on, and close.
  socket_type& socket() noexcept { return tls_ ? tls_->next_layer() : plain_; }
  bool is_open() const noexcept { return tls_ ? tls_->next_layer().is_open() : plain_.is_open(); }

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
  asio::awaitable<std::error_code, Executor> tls_handshake(const std::string& host) {
    failure_.clear();
    if (!tls_) co_return std::error_code{};
    const std::string& name = tls_options_.sni.empty() ? host : tls_options_.sni;
    boost::system::error_code not_an_address;
    asio::ip::make_address(name, not_an_address);
    // SSL_set_tlsext_host_name, without the macro's C cast; OpenSSL copies the name.
    if (not_an_address) {
      ::SSL_ctrl(tls_->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(name.c_str()));
    }
    if (tls_options_.verify_peer)
      tls_->set_verify_callback(asio::ssl::host_name_verification(name));
    auto [ec] = co_await tls_->async_handshake(asio::ssl::stream_base::client,
                                               asio::as_tuple(asio::use_awaitable_t<Executor>{}));
    if (!ec) co_return std::error_code{};
    failure_ = ec.message();
    const long verdict = ::SSL_get_verify_result(tls_->native_handle());
    if (verdict != X509_V_OK) {
      failure_ += std::string(": ") + ::X509_verify_cert_error_string(verdict);
    }
    co_return std::error_code(ec);
  }

  /// Why the last tls_handshake() failed, in OpenSSL's words.
  const std::string& failure() const noexcept { return failure_; }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    if (tls_) return tls_->async_read_some(buffers, std::forward<Token>(token));
    return plain_.async_read_some(buffers, std::forward<Token>(token));
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    if (tls_) return tls_->async_write_some(buffers, std::forward<Token>(token));
    return plain_.async_write_some(buffers, std::forward<Token>(token));
  }

 private:
  executor_type executor_;
  tls_options tls_options_;
  std::shared_ptr<asio::ssl::context> tls_context_;
  socket_type plain_;
  std::optional<tls_stream_type> tls_;  // engaged when TLS is on
  std::string failure_;
};

}  // namespace cachet::resp3::detail

#if CACHET_INCLUDE_BODIES
#include <cachet/detail/redis/impl/transport.ipp>
#endif

#endif
