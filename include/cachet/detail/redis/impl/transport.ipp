#ifndef CACHET_DETAIL_REDIS_IMPL_TRANSPORT_IPP
#define CACHET_DETAIL_REDIS_IMPL_TRANSPORT_IPP

// Bodies of <cachet/detail/redis/transport.hpp>; see <cachet/detail/linkage.hpp>.

#include <cachet/detail/redis/transport.hpp>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <poll.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cerrno>
#include <optional>
#include <utility>

namespace cachet::resp3::detail {

struct tls_session {
  explicit tls_session(asio::ssl::context::method method) : context(method) {}

  asio::ssl::context context;
  std::optional<asio::ssl::stream<asio::ip::tcp::socket>> stream;  // engaged by renew()
};

/// OpenSSL's state for `tls`, or null when TLS is off. Throws cachet::error naming the file that
/// cannot be loaded, with OpenSSL's reason.
CACHET_DECL std::unique_ptr<tls_session> make_tls_session(const tls_options& tls) {
  if (!tls.enabled) return nullptr;
  auto session = std::make_unique<tls_session>(asio::ssl::context::tls_client);
  asio::ssl::context& context = session->context;
  ::SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION);
  auto check = [](boost::system::error_code ec, const char* field, const std::string& file,
                  const char* fix) {
    if (ec) {
      throw cachet::error("cachet::redis::config: " + std::string(field) + " \"" + file +
                          "\" cannot be used (" + ec.message() + "); " + fix);
    }
  };
  boost::system::error_code ec;
  if (tls.verify_peer) {
    context.set_verify_mode(asio::ssl::verify_peer, ec);
    if (tls.ca_file.empty()) {
      context.set_default_verify_paths(ec);
      check(ec, "tls.ca_file", "(system default)", "give a PEM file of CA certificates");
    } else {
      context.load_verify_file(tls.ca_file, ec);
      check(ec, "tls.ca_file", tls.ca_file, "give a readable PEM file of CA certificates");
    }
  } else {
    context.set_verify_mode(asio::ssl::verify_none, ec);
  }
  if (!tls.cert_file.empty()) {
    context.use_certificate_chain_file(tls.cert_file, ec);
    check(ec, "tls.cert_file", tls.cert_file, "give a readable PEM client certificate");
    const std::string& key = tls.key_file.empty() ? tls.cert_file : tls.key_file;
    context.use_private_key_file(key, asio::ssl::context::pem, ec);
    check(ec, "tls.key_file", key, "give the PEM private key of tls.cert_file");
  }
  return session;
}

CACHET_DECL transport::transport(const executor_type& ex, const tls_options& tls)
    : executor_(ex), tls_options_(tls), plain_(ex), tls_(make_tls_session(tls)) {
  renew();
}

CACHET_DECL transport::~transport() = default;

CACHET_DECL transport::socket_type& transport::socket() noexcept {
  return tls_ ? tls_->stream->next_layer() : plain_;
}

CACHET_DECL bool transport::is_open() const noexcept {
  return tls_ ? tls_->stream->next_layer().is_open() : plain_.is_open();
}

CACHET_DECL std::size_t transport::write_now(std::string_view data) noexcept {
  if (tls_ || !plain_.is_open()) return 0;
  boost::system::error_code ec;
  if (!plain_.non_blocking()) plain_.non_blocking(true, ec);
  if (ec) return 0;
  const std::size_t n = plain_.write_some(asio::buffer(data.data(), data.size()), ec);
  return ec ? 0 : n;
}

CACHET_DECL bool transport::wait_readable(std::chrono::steady_clock::time_point deadline) noexcept {
  using std::chrono::steady_clock;
  ::pollfd watched{};
  watched.fd = plain_.native_handle();
  watched.events = POLLIN;
  for (;;) {
    int wait_ms = -1;
    if (deadline != steady_clock::time_point::max()) {
      const auto left = deadline - steady_clock::now();
      if (left <= steady_clock::duration::zero()) return false;
      // Rounded up: poll() counts whole milliseconds, and waking before the deadline would only
      // poll again.
      const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
      wait_ms = ms > 60'000 ? 60'000 : static_cast<int>(ms);
    }
    const int ready = ::poll(&watched, 1, wait_ms);
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) return true;  // the read that follows reports the error
  }
}

CACHET_DECL std::size_t transport::read_now(char* data, std::size_t size,
                                            boost::system::error_code& ec) noexcept {
  ec.clear();
  if (!plain_.non_blocking()) plain_.non_blocking(true, ec);
  if (ec) return 0;
  return plain_.read_some(asio::buffer(data, size), ec);
}

CACHET_DECL void transport::renew() {
  if (tls_) {
    tls_->stream.emplace(executor_, tls_->context);
  } else {
    plain_ = socket_type(executor_);
  }
}

CACHET_DECL void transport::shutdown(socket_type::shutdown_type what,
                                     boost::system::error_code& ec) {
  socket().shutdown(what, ec);
}

CACHET_DECL void transport::close(boost::system::error_code& ec) { socket().close(ec); }

template <class Executor>
asio::awaitable<std::error_code, Executor> transport::tls_handshake(const std::string& host) {
  failure_.clear();
  if (!tls_) co_return std::error_code{};
  auto& stream = *tls_->stream;
  const std::string& name = tls_options_.sni.empty() ? host : tls_options_.sni;
  boost::system::error_code not_an_address;
  asio::ip::make_address(name, not_an_address);
  // SSL_set_tlsext_host_name, without the macro's C cast; OpenSSL copies the name.
  if (not_an_address) {
    ::SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(name.c_str()));
  }
  if (tls_options_.verify_peer) stream.set_verify_callback(asio::ssl::host_name_verification(name));
  auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::client,
                                              asio::as_tuple(asio::use_awaitable_t<Executor>{}));
  if (!ec) co_return std::error_code{};
  failure_ = ec.message();
  const long verdict = ::SSL_get_verify_result(stream.native_handle());
  if (verdict != X509_V_OK) {
    failure_ += std::string(": ") + ::X509_verify_cert_error_string(verdict);
  }
  co_return std::error_code(ec);
}

template <class MutableBuffers, class Token>
auto transport::async_read_some(const MutableBuffers& buffers, Token&& token) {
  if (tls_) return tls_->stream->async_read_some(buffers, std::forward<Token>(token));
  return plain_.async_read_some(buffers, std::forward<Token>(token));
}

template <class ConstBuffers, class Token>
auto transport::async_write_some(const ConstBuffers& buffers, Token&& token) {
  if (tls_) return tls_->stream->async_write_some(buffers, std::forward<Token>(token));
  return plain_.async_write_some(buffers, std::forward<Token>(token));
}

}  // namespace cachet::resp3::detail

#endif
