#ifndef CACHET_DETAIL_REDIS_IMPL_TRANSPORT_IPP
#define CACHET_DETAIL_REDIS_IMPL_TRANSPORT_IPP

// Bodies of <cachet/detail/redis/transport.hpp>; see <cachet/detail/linkage.hpp>.

#include <cachet/detail/redis/transport.hpp>

namespace cachet::resp3::detail {

CACHET_DECL std::shared_ptr<asio::ssl::context> make_tls_context(const tls_options& tls) {
  if (!tls.enabled) return nullptr;
  auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  ::SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
  auto check = [](boost::system::error_code ec, const char* field, const std::string& file,
                  const char* fix) {
    if (ec) {
      throw cachet::error("cachet::redis::config: " + std::string(field) + " \"" + file +
                          "\" cannot be used (" + ec.message() + "); " + fix);
    }
  };
  boost::system::error_code ec;
  if (tls.verify_peer) {
    context->set_verify_mode(asio::ssl::verify_peer, ec);
    if (tls.ca_file.empty()) {
      context->set_default_verify_paths(ec);
      check(ec, "tls.ca_file", "(system default)", "give a PEM file of CA certificates");
    } else {
      context->load_verify_file(tls.ca_file, ec);
      check(ec, "tls.ca_file", tls.ca_file, "give a readable PEM file of CA certificates");
    }
  } else {
    context->set_verify_mode(asio::ssl::verify_none, ec);
  }
  if (!tls.cert_file.empty()) {
    context->use_certificate_chain_file(tls.cert_file, ec);
    check(ec, "tls.cert_file", tls.cert_file, "give a readable PEM client certificate");
    const std::string& key = tls.key_file.empty() ? tls.cert_file : tls.key_file;
    context->use_private_key_file(key, asio::ssl::context::pem, ec);
    check(ec, "tls.key_file", key, "give the PEM private key of tls.cert_file");
  }
  return context;
}

CACHET_DECL transport::transport(const executor_type& ex, const tls_options& tls)
    : executor_(ex), tls_options_(tls), tls_context_(make_tls_context(tls)), plain_(ex) {
  renew();
}

CACHET_DECL void transport::renew() {
  if (tls_context_) {
    tls_.emplace(executor_, *tls_context_);
  } else {
    plain_ = socket_type(executor_);
  }
}

CACHET_DECL void transport::shutdown(socket_type::shutdown_type what,
                                     boost::system::error_code& ec) {
  socket().shutdown(what, ec);
}

CACHET_DECL void transport::close(boost::system::error_code& ec) { socket().close(ec); }

}  // namespace cachet::resp3::detail

#endif
