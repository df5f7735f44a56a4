#ifndef CACHET_REDIS_IMPL_CLIENT_IPP
#define CACHET_REDIS_IMPL_CLIENT_IPP

// Bodies of <cachet/redis/client.hpp>; see <cachet/detail/linkage.hpp>.

#include <cachet/redis/client.hpp>

namespace cachet::resp3 {

CACHET_DECL client::client(executor_type ex, config cfg)
    : conn_(std::make_shared<detail::connection>(ex, std::move(cfg))), executor_(std::move(ex)) {
  conn_->cfg().require_valid();
  if (!conn_->cfg().cluster.seeds.empty())
    throw cachet::error(
        "cachet::redis::client: the config names Redis Cluster seeds (redis-cluster://) but a "
        "client talks to one server; use cachet::redis::cluster_client, or clear cfg.cluster");
}

CACHET_DECL client& client::operator=(client&& other) noexcept {
  if (this != &other) {
    close();
    conn_ = std::move(other.conn_);
    executor_ = std::move(other.executor_);
  }
  return *this;
}

CACHET_DECL std::string client::last_error() const {
  return conn_ ? conn_->last_error() : std::string();
}

CACHET_DECL void client::start() {
  if (conn_) boost::asio::dispatch(conn_->strand(), [c = conn_] { c->start(); });
}

CACHET_DECL void client::close() {
  if (conn_) boost::asio::dispatch(conn_->strand(), [c = conn_] { c->stop(); });
}

CACHET_DECL boost::asio::awaitable<std::vector<value>> client::exec(
    const request& req, const request_options& options) {
  return exec(request(req), options);
}

CACHET_DECL boost::asio::awaitable<std::vector<value>> client::exec(
    request&& req, const request_options& options) {
  auto p = make_pending();  // first: it rejects a moved-from client
  p->commands = std::move(req);
  return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&,
                                     void(std::exception_ptr, std::vector<value>)>(
      initiate_exec<std::vector<value>>{}, boost::asio::use_awaitable, conn_, std::move(p),
      options);
}

CACHET_DECL std::shared_ptr<detail::pending_request> client::make_pending() const {
  if (!conn_)
    throw request_error(error::not_connected,
                        "cachet::redis: exec() on a moved-from client; use the client it was "
                        "moved to");
  return std::make_shared<detail::pending_request>(conn_->strand());
}

CACHET_DECL bool client::admit(detail::connection& conn,
                               const std::shared_ptr<detail::pending_request>& p,
                               const request_options& options) {
  if (auto name = detail::first_push_reply_command(p->commands.payload()); !name.empty())
    throw request_error(error::unexpected_reply,
                        "cachet::redis: " + std::string(name) +
                            " cannot be sent through client::exec (its replies are push "
                            "messages); use cachet::redis::subscriber");
  p->expected = p->commands.size();
  p->idempotent = options.idempotent;
  return conn.admit(p, options.timeout.value_or(conn.cfg().request_timeout));
}

CACHET_DECL value client::take_result(detail::pending_request& p, value*, std::exception_ptr& e) {
  value& reply = p.replies.front();
  if (reply.is_error()) {
    e = std::make_exception_ptr(server_error(std::move(reply.text)));
    return value{};
  }
  return std::move(reply);
}

CACHET_DECL std::vector<value> client::take_result(detail::pending_request& p, std::vector<value>*,
                                                   std::exception_ptr&) {
  return p.replies.take();
}

CACHET_DECL void client::canceller::operator()(boost::asio::cancellation_type type) const {
  if (type == boost::asio::cancellation_type::none) return;
  boost::asio::dispatch(conn->strand(), [p = p] {
    p->cancel_requested = true;
    p->wake.cancel();
  });
}

}  // namespace cachet::resp3

#endif
