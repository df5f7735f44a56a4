#ifndef CACHET_DETAIL_REDIS_IMPL_CONNECTION_IPP
#define CACHET_DETAIL_REDIS_IMPL_CONNECTION_IPP

// Bodies of <cachet/detail/redis/connection.hpp>; see <cachet/detail/linkage.hpp>.

#include <cachet/detail/redis/connection.hpp>
#include <cachet/detail/redis/transport.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <charconv>

namespace cachet::resp3 {
namespace detail {

CACHET_DECL bool is_push_reply_command(std::string_view name) {
  constexpr std::string_view refused[] = {"SUBSCRIBE",   "PSUBSCRIBE",   "SSUBSCRIBE",
                                          "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE",
                                          "MONITOR"};
  auto upper = [](char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; };
  return std::any_of(std::begin(refused), std::end(refused), [&](std::string_view r) {
    return r.size() == name.size() && std::equal(r.begin(), r.end(), name.begin(),
                                                 [&](char a, char b) { return a == upper(b); });
  });
}

CACHET_DECL std::string_view first_push_reply_command(std::string_view payload) {
  auto read_number = [&](char marker) -> long long {
    if (payload.empty() || payload.front() != marker) return -1;
    auto eol = payload.find("\r\n");
    if (eol == std::string_view::npos) return -1;
    long long n = 0;
    for (char c : payload.substr(1, eol - 1)) n = n * 10 + (c - '0');
    payload.remove_prefix(eol + 2);
    return n;
  };
  while (!payload.empty()) {
    long long args = read_number('*');
    if (args < 0) break;
    for (long long i = 0; i < args; ++i) {
      long long len = read_number('$');
      if (len < 0 || static_cast<std::size_t>(len) + 2 > payload.size()) return {};
      auto argument = payload.substr(0, static_cast<std::size_t>(len));
      if (i == 0 && is_push_reply_command(argument)) return argument;
      payload.remove_prefix(static_cast<std::size_t>(len) + 2);
    }
  }
  return {};
}

struct connection::network {
  network(const strand_type& strand, const tls_options& tls)
      : socket(strand, tls), resolver(strand) {}
  transport socket;
  asio::ip::tcp::resolver resolver;
};

CACHET_DECL connection::connection(const asio::any_io_executor& ex, config cfg)
    : cfg_(std::move(cfg)),
      strand_(asio::make_strand(ex)),
      net_(std::make_unique<network>(strand_, cfg_.tls)),
      writer_wake_(strand_),
      reader_wake_(strand_),
      health_timer_(strand_),
      retry_timer_(strand_),
      guard_timer_(strand_),
      backoff_(cfg_.reconnect_min_delay, cfg_.reconnect_max_delay) {}

CACHET_DECL connection::~connection() = default;

CACHET_DECL void connection::start() {
  if (running_ || stopped_) return;
  running_ = true;
  asio::co_spawn(strand_, run(shared_from_this()), asio::detached);
}

CACHET_DECL void connection::stop() {
  if (stopped_) return;
  stopped_ = true;
  close_transport(make_error_code(error::not_connected), "the client was closed");
  net_->resolver.cancel();
  retry_timer_.cancel();
  disarm_guard();
  fail_all(error::connection_lost, "the client was closed before the request was written");
}

CACHET_DECL bool connection::write_idle(const std::shared_ptr<pending_request>& p) {
  if (!write_when_idle || !connected_ || !writer_idle_ || !write_queue_.empty() ||
      !in_flight_.empty() || !unsent_.empty())
    return false;
  // The connection's own requests (the health check's PING) are watched by the io_context.
  const bool read_here = caller_reads && reader_idle_ && net_->socket.plain() && !p->internal;
  // Nothing watched the idle socket: what came meanwhile (a close, a reply nobody asked for) is
  // looked for before writing, so that it is not taken for this request's reply.
  if (read_here && dropped_while_idle()) return false;
  const std::string_view payload = p->commands.payload();
  const std::size_t n = net_->socket.write_now(payload);
  if (n == 0) return false;
  p->written = true;
  if (n < payload.size()) {
    unsent_.assign(payload.substr(n));
    writer_wake_.cancel();
  }
  in_flight_.push_back(p);
  if (read_here && n == payload.size()) {
    read_in_caller_turn(p);
  } else if (caller_reads && !in_flight_.empty()) {
    arm_reader();
  }
  return true;
}

CACHET_DECL bool connection::dropped_while_idle() {
  boost::system::error_code ec;
  const std::size_t n = net_->socket.read_now(read_space(), read_chunk, ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) return false;
  if (ec) {
    close_transport(ec, "the connection dropped while idle");
    return true;
  }
  rend_ += n;
  last_read_ = clock::now();
  // What arrived meanwhile (a push, say) is taken as the reader would have taken it.
  return !take_buffered();
}

CACHET_DECL void connection::read_in_caller_turn(const std::shared_ptr<pending_request>& p) {
  // A server that stops answering is the health check's to find: waiting longer than its
  // interval here would keep it from running, so such a wait goes on in the io_context.
  const auto health = cfg_.health_check_interval;
  clock::time_point until = p->deadline;
  if (health.count() > 0 && (p->timeout.count() == 0 || p->timeout > health))
    until = std::min(until, clock::now() + health);
  while (!p->done) {
    if (!net_->socket.wait_readable(until)) break;  // the waiter reports a passed deadline
    boost::system::error_code ec;
    const std::size_t n = net_->socket.read_now(read_space(), read_chunk, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) continue;
    if (ec) {
      close_transport(ec, "reading failed");
      return;
    }
    rend_ += n;
    last_read_ = clock::now();
    if (!take_buffered()) return;
  }
  if (!in_flight_.empty()) arm_reader();  // a late reply, read and dropped by the reader
}

CACHET_DECL bool connection::take_buffered() {
  for (;;) {
    std::optional<value> reply;
    std::error_code ec;
    rpos_ += parser_.parse(std::string_view(rbuf_.data() + rpos_, rend_ - rpos_), reply, ec);
    if (ec) {
      close_transport(ec, "reading failed");
      return false;
    }
    if (!reply) return true;
    if (!take(std::move(*reply))) return false;
  }
}

CACHET_DECL void connection::enqueue(const std::shared_ptr<pending_request>& p) {
  if (write_idle(p)) return;
  write_queue_.push_back(p);
  writer_wake_.cancel();
  start();
  // A waiting request is worth a connection attempt now rather than after the backoff: it
  // gets an answer, or the attempt's failure, at once instead of at its deadline. Requests
  // made during one attempt share it.
  if (backing_off_) retry_timer_.cancel();
}

CACHET_DECL void connection::enqueue_front(const std::shared_ptr<pending_request>& p) {
  write_queue_.push_front(p);
  writer_wake_.cancel();
}

CACHET_DECL void connection::abandon(const std::shared_ptr<pending_request>& p) {
  if (p->done) return;
  p->abandoned = true;
  if (!p->written) {
    auto it = std::find(write_queue_.begin(), write_queue_.end(), p);
    if (it != write_queue_.end()) write_queue_.erase(it);
  }
}

CACHET_DECL std::string connection::down_reason() const {
  if (connected_) return "connected";
  if (last_failure_.empty()) return "not connected yet";
  return "not connected: " + last_failure_;
}

CACHET_DECL strand_awaitable<void> connection::submit(std::shared_ptr<connection> self,
                                                      std::shared_ptr<pending_request> p,
                                                      std::chrono::milliseconds timeout) {
  if (!self->admit(p, timeout)) co_return;
  co_await wait_for(std::move(self), std::move(p));
}

CACHET_DECL bool connection::admit(const std::shared_ptr<pending_request>& p,
                                   std::chrono::milliseconds timeout) {
  if (stopped_)
    throw request_error(error::not_connected,
                        "cachet::redis: the client was closed; create a new one");
  if (refused_ && !connected_) throw request_error(error::handshake_failed, refusal_message());
  p->timeout = timeout;
  if (timeout.count() > 0) p->deadline = clock::now() + timeout;
  if (p->expected == 0) return false;
  enqueue(p);
  return true;
}

CACHET_DECL strand_awaitable<void> connection::wait_for(std::shared_ptr<connection> self,
                                                        std::shared_ptr<pending_request> p) {
  co_await asio::this_coro::throw_if_cancelled(false);
  for (;;) {
    if (p->done) break;
    // Checked before each wait too: a cancellation emitted before the wait began is only
    // recorded in the state, it does not abort the wait.
    auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none)
      throw self->given_up(p, error::cancelled);
    if (clock::now() >= p->deadline) throw self->given_up(p, error::request_timeout);
    p->wake.expires_at(p->deadline);
    boost::system::error_code ignored;
    co_await p->wake.async_wait(asio::redirect_error(on_strand, ignored));
  }
  if (p->ec) throw failure_of(*p);
}

CACHET_DECL request_error connection::given_up(const std::shared_ptr<pending_request>& p,
                                               error why) {
  abandon(p);
  if (why == error::cancelled)
    return request_error(why,
                         "cachet::redis: the request was cancelled by its caller; if it was "
                         "already written its reply is discarded when it arrives");
  return request_error(
      why, "cachet::redis: request timed out after " + millis(p->timeout) + " (" +
               (p->written ? std::string("written, no reply yet") : down_reason()) +
               "); raise config.request_timeout or request_options::timeout, or check the "
               "server");
}

CACHET_DECL void connection::complete(const std::shared_ptr<pending_request>& p, std::error_code ec,
                                      std::string message) {
  if (p->done) return;
  p->done = true;
  p->ec = ec;
  p->message = std::move(message);
  p->wake.cancel();
}

CACHET_DECL void connection::fail_queued(std::error_code ec, const std::string& message) {
  auto queued = std::move(write_queue_);
  write_queue_.clear();
  for (auto& p : queued) complete(p, ec, message);
}

CACHET_DECL void connection::fail_all(error queued_error, const std::string& why) {
  fail_in_flight(why);
  auto queued = std::move(write_queue_);
  write_queue_.clear();
  for (auto& p : queued)
    complete(p, queued_error,
             "cachet::redis: " + why + " (" + make_error_code(queued_error).message() + ")");
}

CACHET_DECL void connection::fail_in_flight(const std::string& why) {
  auto flying = std::move(in_flight_);
  in_flight_.clear();
  std::vector<std::shared_ptr<pending_request>> resend;
  for (auto& p : flying) {
    if (p->abandoned || p->internal) {
      complete(p, error::outcome_unknown);
    } else if (p->idempotent && !stopped_) {
      p->written = false;
      p->replies.clear();
      resend.push_back(p);
    } else {
      complete(p, error::outcome_unknown,
               "cachet::redis: the connection dropped after the request was written and before "
               "its reply (" +
                   why +
                   "); it may or may not have taken effect: check, or mark "
                   "it request_options::idempotent to have it re-sent");
    }
  }
  // The connection's own requests (health-check PING, subscription replay) belong to it.
  for (auto& p : write_queue_)
    if (p->internal) complete(p, error::connection_lost);
  std::erase_if(write_queue_, [](const auto& p) { return p->internal; });
  write_queue_.insert(write_queue_.begin(), resend.begin(), resend.end());
}

CACHET_DECL void connection::close_transport(std::error_code reason, std::string why) {
  if (net_->socket.is_open()) {
    boost::system::error_code ignored;
    net_->socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    net_->socket.close(ignored);
    last_failure_ = std::move(why) + " (" + reason.message() + ")";
  }
  unsent_.clear();  // part of a request written on this connection; fail_in_flight() decides
  writer_wake_.cancel();
  reader_wake_.cancel();
  health_timer_.cancel();
}

CACHET_DECL strand_awaitable<std::error_code> connection::read_value(std::optional<value>& out) {
  for (;;) {
    std::error_code ec;
    out.reset();
    std::size_t used =
        parser_.parse(std::string_view(rbuf_.data() + rpos_, rend_ - rpos_), out, ec);
    rpos_ += used;
    if (ec) co_return ec;
    if (out) co_return std::error_code{};
    auto [rec, n] = co_await net_->socket.async_read_some(asio::buffer(read_space(), read_chunk),
                                                          asio::as_tuple(on_strand));
    rend_ += n;
    if (rec) co_return std::error_code(rec);
    last_read_ = clock::now();
  }
}

CACHET_DECL char* connection::read_space() {
  // Compacted once per read. The buffer only grows, and its size is not the filled part
  // (rend_), so a read does not zero-fill the chunk it is about to overwrite.
  if (rpos_ > 0) {
    std::copy(rbuf_.begin() + static_cast<std::ptrdiff_t>(rpos_),
              rbuf_.begin() + static_cast<std::ptrdiff_t>(rend_), rbuf_.begin());
    rend_ -= rpos_;
    rpos_ = 0;
  }
  if (rbuf_.size() < rend_ + read_chunk) rbuf_.resize(rend_ + read_chunk);
  return rbuf_.data() + rend_;
}

CACHET_DECL bool connection::take(value&& reply) {
  if (reply.type == type::push) {
    if (on_push) on_push(std::move(reply));
    return true;
  }
  if (in_flight_.empty()) {
    close_transport(make_error_code(error::unexpected_reply),
                    "the server sent a reply no request was waiting for");
    return false;
  }
  // A master demoted by a failover refuses writes: ask Sentinel again.
  const bool demoted = behind_sentinel() && reply.is_error() && reply.text.starts_with("READONLY");
  auto& front = in_flight_.front();
  front->replies.push_back(std::move(reply));
  if (front->replies.size() == front->expected) {
    auto p = std::move(front);
    in_flight_.pop_front();
    complete(p, {});
  }
  if (demoted) {
    close_transport(make_error_code(error::not_master),
                    target_ + " answered READONLY: it is a replica now");
    return false;
  }
  return true;
}

CACHET_DECL bool connection::disarm_guard() {
  ++guard_generation_;
  guard_timer_.cancel();
  return guard_fired_;
}

CACHET_DECL void connection::close_socket(connection& c) {
  boost::system::error_code ignored;
  c.net_->socket.close(ignored);
}

CACHET_DECL strand_awaitable<std::error_code> connection::resolve_and_connect(
    const std::string& host, std::uint16_t port) {
  arm_guard(cfg_.resolve_timeout, [](connection& c) { c.net_->resolver.cancel(); });
  auto [rec, endpoints] =
      co_await net_->resolver.async_resolve(host, std::to_string(port), asio::as_tuple(on_strand));
  if (disarm_guard()) co_return make_error_code(error::resolve_timeout);
  if (rec) co_return std::error_code(rec);
  if (stopped_) co_return make_error_code(error::not_connected);

  net_->socket.renew();
  arm_guard(cfg_.connect_timeout, close_socket);
  auto [cec, endpoint] =
      co_await asio::async_connect(net_->socket.socket(), endpoints, asio::as_tuple(on_strand));
  (void)endpoint;
  if (disarm_guard()) {
    close_socket(*this);
    co_return make_error_code(error::connect_timeout);
  }
  if (cec) co_return std::error_code(cec);
  boost::system::error_code ignored;
  net_->socket.socket().set_option(asio::ip::tcp::no_delay(true), ignored);
  arm_guard(cfg_.handshake_timeout, close_socket);
  auto tls_ec = co_await net_->socket.tls_handshake<strand_type>(host);
  if (disarm_guard()) co_return make_error_code(error::handshake_timeout);
  if (tls_ec) co_return make_error_code(error::tls_handshake_failed);
  co_return std::error_code{};
}

CACHET_DECL strand_awaitable<std::error_code> connection::ask_sentinels(std::string& host,
                                                                        std::uint16_t& port) {
  const auto& sentinels = cfg_.sentinel.addresses;
  std::string failures;
  for (std::size_t tried = 0; tried < sentinels.size(); ++tried) {
    const std::size_t index = (next_sentinel_ + tried) % sentinels.size();
    std::string why;
    auto ec = co_await ask_sentinel(sentinels[index], host, port, why);
    boost::system::error_code ignored;
    net_->socket.close(ignored);
    if (stopped_) co_return make_error_code(error::not_connected);
    if (!ec) {
      next_sentinel_ = index;
      co_return std::error_code{};
    }
    failures += (failures.empty() ? "" : "; ") + sentinels[index].host + ":" +
                std::to_string(sentinels[index].port) + " " + why;
  }
  connect_refusal_ = "no sentinel gave the address of master \"" + cfg_.sentinel.master_name +
                     "\" (" + failures + ")";
  co_return make_error_code(error::sentinel_unavailable);
}

CACHET_DECL strand_awaitable<std::error_code> connection::ask_sentinel(
    const sentinel_options::address& sentinel, std::string& host, std::uint16_t& port,
    std::string& why) {
  reset_reader();
  auto ec = co_await resolve_and_connect(sentinel.host, sentinel.port);
  if (ec) {
    why = ec == error::tls_handshake_failed ? net_->socket.failure() : ec.message();
    co_return ec;
  }
  request ask;
  ask.push("SENTINEL", "GET-MASTER-ADDR-BY-NAME", cfg_.sentinel.master_name);
  arm_guard(cfg_.handshake_timeout, close_socket);
  auto [wec, n] = co_await asio::async_write(net_->socket, asio::buffer(ask.payload()),
                                             asio::as_tuple(on_strand));
  (void)n;
  std::optional<value> reply;
  ec = wec;
  if (!ec) ec = co_await read_value(reply);
  if (disarm_guard()) ec = make_error_code(error::handshake_timeout);
  if (ec) {
    why = ec.message();
    co_return ec;
  }
  const auto& address = reply->elements;
  if (reply->is_error()) {
    why = "answered: " + reply->text;
  } else if (reply->is_null()) {
    why = "monitors no master of that name";
  } else if (address.size() != 2 || !address[0].is_string() || !address[1].is_string()) {
    why = "gave no host and port";
  } else {
    const std::string& port_text = address[1].text;
    auto [end, pec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (pec == std::errc{} && end == port_text.data() + port_text.size()) {
      host = address[0].text;
      co_return std::error_code{};
    }
    why = "gave the port \"" + port_text + "\"";
  }
  co_return make_error_code(error::sentinel_unavailable);
}

CACHET_DECL void connection::reset_reader() {
  parser_.reset();
  rbuf_.clear();
  rpos_ = 0;
  rend_ = 0;
}

CACHET_DECL strand_awaitable<std::error_code> connection::handshake_steps() {
  request hello;
  std::vector<std::string> args{"3"};
  if (!cfg_.password.empty()) {
    args.insert(args.end(), {"AUTH", cfg_.username.empty() ? std::string("default") : cfg_.username,
                             cfg_.password});
  }
  if (!cfg_.client_name.empty()) args.insert(args.end(), {"SETNAME", cfg_.client_name});
  hello.push("HELLO", args);
  if (cfg_.database != 0) hello.push("SELECT", cfg_.database);
  // Behind Sentinel, the server named may have been demoted since: it must say it is a master.
  if (behind_sentinel()) hello.push("ROLE");

  auto [wec, n] = co_await asio::async_write(net_->socket, asio::buffer(hello.payload()),
                                             asio::as_tuple(on_strand));
  (void)n;
  if (wec) co_return std::error_code(wec);
  std::string refused;
  std::string role;
  for (std::size_t answered = 0; answered < hello.size();) {
    std::optional<value> reply;
    // co_await is kept out of conditions: g++ 12 miscompiles some such forms.
    auto ec = co_await read_value(reply);
    if (ec) co_return ec;
    if (reply->type == type::push) {
      if (on_push) on_push(std::move(*reply));
      continue;
    }
    ++answered;
    if (reply->is_error() && refused.empty()) refused = reply->text;
    if (behind_sentinel() && answered == hello.size() && !reply->elements.empty())
      role = reply->elements.front().text;
  }
  if (!refused.empty()) {
    handshake_refusal_ = std::move(refused);
    co_return make_error_code(error::handshake_failed);
  }
  if (behind_sentinel() && role != "master") {
    connect_refusal_ = target_ + " is not a master (ROLE: " + role + ")";
    co_return make_error_code(error::not_master);
  }
  co_return std::error_code{};
}

CACHET_DECL strand_awaitable<std::error_code> connection::connect_and_handshake() {
  std::string host = cfg_.host;
  std::uint16_t port = cfg_.port;
  if (behind_sentinel()) {
    auto ec = co_await ask_sentinels(host, port);
    if (ec) co_return ec;
  }
  reset_reader();
  target_ = host + ":" + std::to_string(port);
  auto connect_ec = co_await resolve_and_connect(host, port);
  if (connect_ec == error::tls_handshake_failed)
    connect_refusal_ = "the TLS handshake with " + target_ + " failed: " + net_->socket.failure();
  if (connect_ec) co_return connect_ec;
  if (stopped_) co_return make_error_code(error::not_connected);
  arm_guard(cfg_.handshake_timeout, close_socket);
  auto ec = co_await handshake_steps();
  if (disarm_guard()) co_return make_error_code(error::handshake_timeout);
  // With TLS 1.3 a server refuses a client certificate after the handshake: its alert, or
  // just a reset, ends the first read. (Errors of cachet's own category are the server's
  // answers or malformed bytes, not the transport's.)
  if (cfg_.tls.enabled && ec && ec.category() != error_category()) {
    connect_refusal_ = "the server ended the TLS session with " + target_ +
                       " before answering HELLO (" + ec.message() +
                       "); a server with tls-auth-clients needs a client certificate";
    co_return make_error_code(error::tls_handshake_failed);
  }
  co_return ec;
}

CACHET_DECL strand_awaitable<void> connection::reader_loop() {
  const bool on_demand = caller_reads && net_->socket.plain();
  for (;;) {
    if (on_demand && in_flight_.empty() && rpos_ == rend_) {
      reader_wake_.expires_at(clock::time_point::max());
      reader_idle_ = true;
      boost::system::error_code ignored;
      co_await reader_wake_.async_wait(asio::redirect_error(on_strand, ignored));
      reader_idle_ = false;
      if (!net_->socket.is_open()) co_return;
      continue;
    }
    std::optional<value> reply;
    auto ec = co_await read_value(reply);
    if (ec) {
      close_transport(ec, "reading failed");
      co_return;
    }
    if (!take(std::move(*reply))) co_return;
  }
}

CACHET_DECL strand_awaitable<void> connection::writer_loop() {
  std::string batch;
  for (;;) {
    if (!net_->socket.is_open()) co_return;
    if (write_queue_.empty() && unsent_.empty()) {
      writer_wake_.expires_at(clock::time_point::max());
      boost::system::error_code ignored;
      writer_idle_ = true;
      co_await writer_wake_.async_wait(asio::redirect_error(on_strand, ignored));
      writer_idle_ = false;
      continue;
    }
    // Everything queued so far goes out in one write: automatic pipelining.
    batch.swap(unsent_);
    unsent_.clear();
    while (!write_queue_.empty()) {
      auto p = std::move(write_queue_.front());
      write_queue_.pop_front();
      batch += p->commands.payload();
      p->written = true;
      if (p->expected == 0) {
        complete(p, {});
      } else {
        in_flight_.push_back(std::move(p));
      }
    }
    if (!in_flight_.empty()) arm_reader();
    // What the socket takes at once needs no round through the io_context.
    const std::size_t now = net_->socket.write_now(batch);
    if (now == batch.size()) continue;
    auto [ec, n] = co_await asio::async_write(net_->socket,
                                              asio::buffer(batch.data() + now, batch.size() - now),
                                              asio::as_tuple(on_strand));
    (void)n;
    if (ec) {
      close_transport(ec, "writing failed");
      co_return;
    }
  }
}

CACHET_DECL strand_awaitable<void> connection::health_loop() {
  const auto interval = cfg_.health_check_interval;
  for (;;) {
    if (!net_->socket.is_open()) co_return;
    boost::system::error_code ignored;
    const auto idle_since = last_read_;
    if (interval.count() == 0 || clock::now() < idle_since + interval) {
      if (interval.count() == 0) {
        health_timer_.expires_at(clock::time_point::max());
      } else {
        health_timer_.expires_at(idle_since + interval);
      }
      co_await health_timer_.async_wait(asio::redirect_error(on_strand, ignored));
      continue;
    }
    auto ping = std::make_shared<pending_request>(strand_);
    ping->commands.push("PING");
    ping->expected = 1;
    ping->internal = true;
    enqueue(ping);
    ping->wake.expires_after(interval);
    co_await ping->wake.async_wait(asio::redirect_error(on_strand, ignored));
    if (!net_->socket.is_open()) co_return;
    if (!ping->done) {
      close_transport(make_error_code(error::health_check_failed),
                      "the health-check PING was not answered within " + millis(interval));
      co_return;
    }
  }
}

CACHET_DECL strand_awaitable<void> connection::run(std::shared_ptr<connection> self) {
  using namespace asio::experimental::awaitable_operators;
  while (!self->stopped_) {
    std::error_code ec = co_await self->connect_and_handshake();
    if (self->stopped_) break;
    if (ec) {
      boost::system::error_code ignored;
      self->net_->socket.close(ignored);
      if (ec == error::handshake_failed) {
        self->last_failure_ = "the server refused the handshake: " + self->handshake_refusal_;
        // A refused handshake is a configuration problem: fail waiting requests now instead of
        // letting them run into their deadlines; retries continue in the background.
        self->refused_ = true;
        self->fail_queued(ec, self->refusal_message());
      } else if (ec == error::tls_handshake_failed || ec == error::sentinel_unavailable ||
                 ec == error::not_master) {
        self->last_failure_ = self->connect_refusal_;
        self->fail_queued(ec, "cachet::redis: " + self->last_failure_ + "; " +
                                  (ec == error::tls_handshake_failed
                                       ? "check config.tls (ca_file, cert_file, key_file, sni)"
                                       : "check config.sentinel and the sentinels' state"));
      } else {
        self->last_failure_ = "connecting to " + self->target_ + " failed: " + ec.message();
        // The requests waited for this attempt: waiting for the next one could outlast their
        // deadlines, so they fail now (the breaker counts it) and the caller goes on.
        self->fail_queued(make_error_code(error::not_connected),
                          "cachet::redis: " + self->last_failure_ +
                              "; no connection to send the request on (check that the server "
                              "runs, and config.host and port)");
      }
      self->set_last_error(self->last_failure_);
    } else {
      self->backoff_.reset();
      self->refused_ = false;
      self->writer_idle_ = false;  // until the writer below waits for requests
      self->connected_ = true;
      self->set_last_error({});
      self->last_read_ = clock::now();
      if (self->on_connected) self->on_connected();
      try {
        co_await (self->reader_loop() || self->writer_loop() || self->health_loop());
      } catch (const std::exception&) {
        // The loops report failures by closing the transport; nothing else can be thrown.
      }
      self->connected_ = false;
      if (self->on_disconnected) self->on_disconnected();
      self->close_transport(make_error_code(error::connection_lost), "the connection dropped");
      self->set_last_error(self->last_failure_);
      self->fail_in_flight(self->last_failure_);
    }
    if (self->stopped_) break;
    self->retry_timer_.expires_after(self->backoff_.next());
    boost::system::error_code ignored;
    self->backing_off_ = true;
    co_await self->retry_timer_.async_wait(asio::redirect_error(on_strand, ignored));
    self->backing_off_ = false;
  }
  self->running_ = false;
  self->fail_all(error::connection_lost, "the client was closed before the request was written");
}

}  // namespace detail
}  // namespace cachet::resp3

#endif
