#ifndef CACHET_REDIS_HPP
#define CACHET_REDIS_HPP

/// \file
/// The Redis backend, and everything else cachet has for Redis (client, configuration, errors),
/// with the core of <cachet.hpp>: every policy, so this one header is enough.
///
///     #include <cachet/redis.hpp>
///     cachet::redis::configure("redis://user:secret@127.0.0.1:6379/0");  // or CACHET_REDIS_URL
///     cachet::cached<&load_user, cachet::ttl<300>, cachet::key<"user:{}">,
///                    cachet::tags<"users">, cachet::backend<cachet::redis>> get_user;
///     User u = get_user(42);
///     get_user.invalidate_tag("users");
///
/// Keys in Redis (a prefix and a schema version keep deployments and formats apart). Entries
/// have ':' right after the schema version, everything else of cachet's has '#', so no key
/// template and no argument value can name a counter or a rate limit:
///
/// - `<prefix>:v<schema>:<key>`: an entry, when the function has a cachet::key: the template's
///   output verbatim (`cachet:v1:user:42`);
/// - `<prefix>:v<schema>:<function>:<args>`: an entry, without a key template
///   (`cachet:v1:load_user:42`);
/// - `<prefix>:v<schema>#tag:<tag>`: the tag's counter (a fresh token SET by invalidate_tag);
/// - `<prefix>:v<schema>#fn:<function>`: the function's counter (a fresh token SET by clear());
///   for a function object, its key template stands for the function (`#fn:price:{}`);
/// - `<prefix>:v<schema>#rate:<name>:<key>`: a rate limit's state (redis_rate_limiter).
///
/// An entry is a hash: `v` the value (JSON text), `g` the tokens its counters held when it was
/// computed, `f` when fail_safe is on, until when it is fresh, `p` a miss's write permit, `l`
/// with cachet::lease the process computing a miss and until when (see cachet/lease.hpp). It is
/// current while every counter still holds its token (see detail/redis/store_entry.hpp, which
/// also says why a confirmed invalidation is never undone). A read is one script (EVALSHA) over
/// the entry and its counters; a miss's write is one more, which stores the result only if no
/// invalidation came since the read.
///
/// On a Redis Cluster (`redis-cluster://`, config::cluster.seeds) entries are spread over
/// redis_options::cluster_buckets buckets, each a hash tag with its own copy of every counter:
/// `{<prefix>#<i>.<n>}:v<schema>:<key>`, `{<prefix>#<i>.<n>}:v<schema>#tag:<tag>`, ... A hit is
/// still one script on one node; invalidate_tag and clear() write every bucket (one pipeline per
/// node, in parallel). Rate limits keep `<prefix>:v<schema>#rate:...` (see
/// detail/redis/key_layout.hpp).
///
/// Reads and writes that fail (Redis down, slow beyond config::request_timeout, foreign data)
/// never fail a call: the function's result is returned and the failure counted in
/// stats().backend_errors (or decode_errors). Invalidations (invalidate, invalidate_tag, clear)
/// do throw on failure, so the caller knows they are not confirmed; they are not lost either:
/// the backend keeps them and replays them (one pipelined request) before any cached call uses
/// Redis again. Until Redis confirms them, cached calls on the backend skip Redis, since an
/// entry they should have removed may still be there (see pending_invalidations()).
///
/// A connection attempt that fails fails the requests waiting for it at once, so with Redis
/// unreachable a cached call costs one refused attempt, not config::request_timeout. Since cached
/// calls never throw for Redis, last_error() says why the connection failed (the server's own text
/// for a refused password, user or database), and verify() throws it at start-up.
///
/// After redis_options::breaker_options::consecutive_failures transport failures in a row
/// (timeouts, a lost or refused connection), the backend's circuit breaker opens: for the
/// cooldown, cached calls skip Redis altogether (stats().backend_skipped), so they cost the
/// function alone and no request deadline; nothing they compute is written. Then a probe
/// request tests Redis: an answer closes the breaker, a failure opens it again. Error replies
/// (OOM on a write under maxmemory, ...) prove Redis answers: they count in backend_errors, not
/// towards opening. Invalidations still try Redis while it is open, and throw if it fails. The
/// probe replays the pending invalidations first; only once they are confirmed does it read.

#include <cachet.hpp>
#include <cachet/backend.hpp>
#include <cachet/cached.hpp>
#include <cachet/clock.hpp>
#include <cachet/codec.hpp>
#include <cachet/detail/key_registry.hpp>
#include <cachet/detail/linkage.hpp>
#include <cachet/detail/redis/backend_breaker.hpp>
#include <cachet/detail/redis/backend_runtime.hpp>
#include <cachet/detail/redis/store.hpp>
#include <cachet/detail/resilience/backoff.hpp>
#include <cachet/detail/resilience/breaker_machine.hpp>
#include <cachet/error.hpp>
#include <cachet/health.hpp>
#include <cachet/redis/client.hpp>
#include <cachet/redis/cluster_client.hpp>
#include <cachet/redis/config.hpp>
#include <cachet/redis/error.hpp>
#include <cachet/redis/request.hpp>
#include <cachet/redis/resp3.hpp>
#include <cachet/redis/script.hpp>
#include <cachet/redis/subscriber.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace cachet {

/// How a Redis backend names its keys, and when it stops asking a failing server.
///
///     cachet::redis cache{cfg, {.key_prefix = "shop",
///                               .breaker = {.consecutive_failures = 3,
///                                           .cooldown = std::chrono::seconds(2)}}};
struct redis_options {
  /// The backend's circuit breaker (see cachet::redis): one per backend object, shared by every
  /// cached function on it.
  struct breaker_options {
    /// Transport failures in a row (timeouts, lost or refused connections) that open it; 0
    /// keeps it closed forever, so every call tries Redis and may wait for its deadline.
    std::size_t consecutive_failures = 5;
    /// How long cached calls skip Redis once it is open, before probe requests test it.
    cachet::clock::duration cooldown = std::chrono::seconds(5);
    /// Requests let through at once while half-open; the first answer closes it.
    std::size_t half_open_probes = 1;
    /// The breaker's time source; null = the steady clock (read with a resolution of a few
    /// milliseconds). Must outlive the backend.
    const cachet::clock* clock = nullptr;
    /// Called after each state change with the old and the new state, on the thread that made
    /// the change (often the backend's I/O thread): it must not throw, block, or make blocking
    /// calls on this backend.
    std::function<void(circuit_state from, circuit_state to)> on_state_change = nullptr;
  };

  /// The first part of every key, so that several applications can share a server.
  std::string key_prefix = "cachet";
  /// The second part (`v1`): raise it when the stored format of results changes, and every
  /// entry written by older code is ignored (and expires with its ttl).
  std::uint64_t schema_version = 1;
  /// When the backend stops sending cached calls' requests to a failing server.
  breaker_options breaker = {};
  /// Failed invalidate(key) calls the backend keeps one by one for a replay; past this many, a
  /// further one is kept as a clear() of its function (costing misses, never stale entries).
  std::size_t max_pending_key_invalidations = 10'000;
  /// On a Redis Cluster: how many buckets (hash tags) entries are spread over, a power of two
  /// up to 16384. Every process sharing the prefix must use the same number. More buckets
  /// spread the load more evenly over the masters; each invalidate_tag and clear() writes one
  /// counter per bucket.
  std::size_t cluster_buckets = 64;
  /// The application's io_context, for coroutines that co_await cached calls (`async()`,
  /// `async_many()`, peeks): those running on it then talk to Redis on a connection the backend
  /// keeps there (one per server, pipelined, serving every coroutine on it), on their own thread,
  /// instead of hopping to the backend's I/O thread and back. The io_context may be run by
  /// several threads. Blocking calls, invalidations and their replays are unchanged. The
  /// io_context must outlive the backend, and keeps work while the backend lives: its run()
  /// returns only once the backend is destroyed (as with any connection living on it).
  ///
  ///     boost::asio::io_context io;
  ///     cachet::redis cache{cfg, {.key_prefix = "shop", .async_context = &io}};
  boost::asio::io_context* async_context = nullptr;
};

/// The Redis backend: `cachet::backend<cachet::redis>`. One object is one connection to one
/// server (pipelined, reconnecting), served by an I/O thread of its own; blocking callers drive
/// connections of their own on their threads, and coroutines of the io_context given as
/// redis_options::async_context one that lives there.
///
///     cachet::redis cache{cachet::redis::config::from_url(url), {.key_prefix = "shop"}};
///     cachet::cached<&load_user, cachet::backend<cachet::redis>> get_user{cache};
///
/// Without a backend object, cached functions use the process-wide one, configured with
/// configure() or the environment variable CACHET_REDIS_URL. A backend must outlive the cached
/// functions that use it; its destructor closes the connection and joins its thread.
///
/// It is also where cachet's Redis names live: cachet::redis::client, config, error, ...
class redis {
 public:
  using client = resp3::client;    ///< the RESP3 client, see <cachet/redis/client.hpp>
  using config = resp3::config;    ///< connection settings
  using error = resp3::error;      ///< error codes (std::error_code enum)
  using request = resp3::request;  ///< a pipeline of commands
  using request_options = resp3::request_options;  ///< per-call deadline and idempotency
  using request_error = resp3::request_error;      ///< a failed request (derives cachet::error)
  using server_error = resp3::server_error;        ///< an error reply from the server
  using protocol_error = resp3::protocol_error;    ///< malformed bytes from the server
  using value = resp3::value;                      ///< one RESP3 reply
  using type = resp3::type;                        ///< the RESP3 type of a reply
  using script = resp3::script;                    ///< a Lua script run by EVALSHA
  using subscriber = resp3::subscriber;            ///< pub/sub on a connection of its own
  using message = resp3::message;                  ///< a pub/sub message
  using cluster_client = resp3::cluster_client;    ///< Redis Cluster commands, routed by slot
  using cluster_command = resp3::cluster_command;  ///< a command and the key that routes it
  using rate_limiter = class redis_rate_limiter;   ///< see <cachet/redis/rate_limiter.hpp>

  /// Stores the results of one cached function; used by cachet::cached.
  template <class Value, std::size_t TagCount, class Codec = json_codec>
  using store = detail::redis_store<Value, TagCount, Codec, redis>;

  /// Results are stored as bytes, so cachet::codec<> applies.
  static constexpr bool serializes_values = true;
  /// Keys must be the same in every process: a function object needs a cachet::key<>.
  static constexpr bool needs_stable_keys = true;
  /// Redis evicts by its own maxmemory policy, across every function: cachet::capacity<> is
  /// refused at compile time rather than silently ignored.
  static constexpr bool bounds_entries_per_function = false;

  /// Connects in the background to the server `cfg` names, and starts the I/O thread.
  /// \throws cachet::error when opts.breaker cannot work (no probes, a negative cooldown), or
  /// `cfg` cannot (config::require_valid()).
  CACHET_DECL explicit redis(config cfg, redis_options opts = {});

  redis(const redis&) = delete;
  redis& operator=(const redis&) = delete;

  /// Configures the process-wide backend (shared()) from a URL,
  /// `redis://[user[:password]@]host[:port][/db]`, `rediss://...?ca=...` (TLS) or
  /// `redis-sentinel://s1:26379,s2:26379/mymaster` (see config::from_url). Call it at start-up,
  /// before the first cached call that uses it.
  /// \throws request_error(error::invalid_url) on a bad URL; cachet::error when the shared
  /// backend is already in use, or a setting cannot work (config::require_valid()).
  static void configure(std::string_view url, redis_options opts = {}) {
    configure(config::from_url(url), std::move(opts));
  }
  CACHET_DECL static void configure(config cfg, redis_options opts = {});

  /// The process-wide backend of cached functions given no backend object. It connects on first
  /// use, to what configure() or else CACHET_REDIS_URL names; with neither, that use throws
  /// cachet::error.
  static redis& shared() {
    static redis instance{deferred{}};
    return instance;
  }

  /// Makes every entry tagged `tag`, of every cached function on this backend (and on every
  /// process sharing the server and prefix), stale. O(1): one SET of a fresh token to its counter.
  /// \throws request_error (or server_error) when Redis fails, or when called on the backend's
  /// I/O thread (co_await async_invalidate_tag there).
  /// It tries Redis even while the backend's breaker is open. When it fails, the invalidation is
  /// still kept and replayed (see pending_invalidations()): it may or may not have been applied,
  /// and sending it again is harmless.
  CACHET_DECL void invalidate_tag(std::string_view tag);

  /// invalidate_tag for coroutines, on any executor.
  CACHET_DECL boost::asio::awaitable<void> async_invalidate_tag(std::string tag);

  /// Invalidations (invalidate, invalidate_tag, clear, of any cached function on this backend)
  /// that failed and wait for a replay; 0 while Redis works. While it is not 0, cached calls on
  /// this backend do not use Redis: the first one the breaker lets through replays them, in one
  /// pipelined request, and only once Redis has confirmed them do calls read and write it again.
  /// Identical invalidations are kept once. A replay refused by the server (a SET under
  /// `maxmemory`, say) keeps them pending. They live in this process: a backend destroyed with
  /// some pending loses them (other processes never saw them either); replay_invalidations()
  /// before shutting down sends them.
  ///
  ///     if (cache.pending_invalidations() > 0) alert("Redis missed invalidations");
  std::size_t pending_invalidations() { return runtime().pending_invalidations(); }

  /// Replays the pending invalidations now, whatever the breaker says (like an invalidation).
  /// \throws request_error or server_error when they cannot all be confirmed; they stay pending.
  CACHET_DECL void replay_invalidations();

  /// The state of the backend's circuit breaker: closed (cached calls use Redis), open (they
  /// skip it) or half-open (probe requests test it). An open breaker whose cooldown has ended
  /// reports, and becomes, half-open.
  ///
  ///     if (cache.backend_state() != cachet::circuit_state::closed) alert("Redis degraded");
  circuit_state backend_state() { return runtime().breaker().state(); }

  /// What the backend's breaker has seen: Redis requests that were answered (successes) or
  /// failed, operations it skipped (rejected), and its transitions.
  breaker_counters backend_counters() { return runtime().breaker().counters(); }

  /// Why the backend's connection last failed, in words; empty while it is connected. Cached
  /// calls never throw for Redis (they count stats().backend_errors and call the function), so
  /// this is where a bad configuration shows: the server's own text when it refused the
  /// handshake ("WRONGPASS invalid username-password pair or user is disabled.", "NOAUTH ...",
  /// "ERR DB index is out of range"), else the transport's ("connecting to 127.0.0.1:6379
  /// failed: Connection refused").
  ///
  ///     if (get_user.stats().backend_errors > 0) log("Redis: " + cache.last_error());
  std::string last_error() { return runtime().last_error(); }

  /// For readiness probes: the breaker's state, the pending invalidations, and one PING, timed,
  /// blocking for at most config::request_timeout (it is sent whatever the breaker says, as
  /// verify()'s). Never throws for Redis: a failed PING reports `connected = false` and why in
  /// `last_error`. \throws request_error when called on the backend's I/O thread.
  ///
  ///     if (!cache.health().ready()) return http_503();
  CACHET_DECL cachet::health health();

  /// Checks that the server answers, blocking for at most config::request_timeout; call it at
  /// start-up to fail loudly on a wrong address, password, user or database.
  /// \throws request_error: handshake_failed with the server's text, not_connected with the
  /// reason the connection failed, tls_handshake_failed with OpenSSL's reason ("certificate
  /// verify failed"), sentinel_unavailable or not_master, request_timeout; or when called on the
  /// backend's I/O thread.
  ///
  ///     cachet::redis cache{cfg};
  ///     cache.verify();  // throws "... WRONGPASS invalid username-password pair ..."
  CACHET_DECL void verify();

  /// The backend's own client, for commands of your own on the same connection.
  /// \throws cachet::error on a Redis Cluster (use cluster_connection()).
  client& connection() { return runtime().client(); }

  /// The backend's cluster client, for commands of your own on a Redis Cluster.
  /// \throws cachet::error on one server (use connection()).
  CACHET_DECL cluster_client& cluster_connection();

  /// The key prefix and schema version.
  const redis_options& key_options() const noexcept { return options_; }

  /// The key templates of the cached functions on this backend (see cachet::key).
  detail::key_registry& key_templates() noexcept { return *key_templates_; }

  /// What stores use; connects the shared backend on first use.
  CACHET_DECL detail::redis_runtime& runtime();

 private:
  struct deferred {};
  explicit redis(deferred) {}

  static bool config_in_environment() {
    const char* url = std::getenv("CACHET_REDIS_URL");
    return url != nullptr && *url != '\0';
  }

  // On one server, entries are "<prefix>:v<schema>:...", everything else
  // "<prefix>:v<schema>#..."; on a cluster, in buckets (detail/redis/key_layout.hpp).
  CACHET_DECL static detail::key_layout layout_for(const config& cfg, const redis_options& opts);

  // One PING per bucket: on a cluster, every master that holds one (one pipeline each, in
  // parallel), so a node that is down shows.
  CACHET_DECL static boost::asio::awaitable<void> ping_every_node(detail::redis_runtime& rt);

  CACHET_DECL static detail::redis_backend_breaker::settings checked_breaker(
      const redis_options::breaker_options& b);

  CACHET_DECL static std::unique_ptr<detail::redis_runtime> make_runtime(config cfg,
                                                                         const redis_options& opts);

  redis_options options_;
  std::mutex init_mutex_;
  std::optional<config> pending_;
  std::unique_ptr<detail::redis_runtime> owned_;
  std::atomic<detail::redis_runtime*> runtime_{nullptr};
  std::shared_ptr<detail::key_registry> key_templates_ = std::make_shared<detail::key_registry>();
};

namespace detail {
// cachet::retry's backoff in cached<>::async(): a timer of the awaiting coroutine's executor, so
// the executor's thread runs other coroutines meanwhile.
template <>
struct backoff_timers<redis> {
  CACHET_DECL static boost::asio::awaitable<void> wait(std::chrono::nanoseconds delay);
};
}  // namespace detail

}  // namespace cachet

#include <cachet/redis/rate_limiter.hpp>

#if CACHET_INCLUDE_BODIES
#include <cachet/impl/redis.ipp>
#endif

#endif
