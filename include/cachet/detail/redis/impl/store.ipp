#ifndef CACHET_DETAIL_REDIS_IMPL_STORE_IPP
#define CACHET_DETAIL_REDIS_IMPL_STORE_IPP

// Bodies of <cachet/detail/redis/store.hpp>; see <cachet/detail/linkage.hpp>.

#include <cachet/detail/redis/store.hpp>

namespace cachet::detail {

CACHET_DECL redis_store_core::redis_store_core(const store_settings& settings,
                                               lifetime_reports lifetimes, flight_maker make_flight)
    : ttl_(settings.ttl),
      jitter_percent_(settings.jitter_percent),
      refresh_percent_(settings.refresh_percent),
      max_stale_(settings.ttl.count() > 0 ? settings.max_stale : std::chrono::nanoseconds(0)),
      lease_ms_(std::chrono::milliseconds(settings.lease).count()),
      reports_hit_lifetime_(lifetimes == lifetime_reports::on),
      clock_(settings.clock),
      name_(settings.name),
      key_template_(settings.key_template),
      has_key_template_(settings.has_key_template),
      make_flight_(make_flight) {
  if (name_.empty() && !has_key_template_) {
    throw cachet::error(
        "cachet::backend<cachet::redis>: a function object has no name that is stable across "
        "builds, so its entries would have no stable Redis key; give it a key template, e.g. "
        "cachet::key<\"price:{}\">");
  }
}

CACHET_DECL redis_store_core::ticket redis_store_core::admit(redis_runtime& rt) {
  ticket t = rt.breaker().admit();
  if (!t.admitted()) counts_.backend_skipped.fetch_add(1, std::memory_order_relaxed);
  return t;
}

CACHET_DECL std::int64_t redis_store_core::now_ms() const {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  if (clock_ != nullptr)
    return duration_cast<milliseconds>(clock_->now().time_since_epoch()).count();
  return duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

CACHET_DECL std::int64_t redis_store_core::load_window_ms() const {
  const auto ttl = std::chrono::ceil<std::chrono::milliseconds>(
      longest_jittered_ttl(ttl_, jitter_percent_) + max_stale_);
  return std::max({ttl.count(), std::int64_t{60'000}, lease_ms_});
}

CACHET_DECL void redis_store_core::backend_failed(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const resp3::request_error& error) {
    if (error.code() == resp3::error::cancelled) throw;
  } catch (...) {
  }
  counts_.backend_errors.fetch_add(1, std::memory_order_relaxed);
}

CACHET_DECL redis_store_core::entry_location redis_store_core::locate(const redis_runtime& rt,
                                                                      std::string_view key) const {
  const key_layout& layout = rt.layout();
  std::string out;
  out.reserve(layout.bucket(0).entry_base.size() + 8 + name_.size() + 1 + key.size());
  if (!has_key_template_) {
    out += name_;
    out += ':';
  }
  out += key;
  const key_bucket& bucket = layout.bucket(layout.bucket_of(out));
  out.insert(0, bucket.entry_base);
  return {std::move(out), &bucket};
}

CACHET_DECL std::vector<std::string> redis_store_core::entry_keys(
    entry_location at, const std::vector<std::string>& tags) const {
  std::vector<std::string> keys;
  keys.reserve(tags.size() + 2);
  keys.push_back(std::move(at.key));
  keys.push_back(function_key(*at.bucket));
  for (const auto& tag : tags) keys.push_back(at.bucket->counter_base + "tag:" + tag);
  return keys;
}

CACHET_DECL redis_store_core::read_target redis_store_core::read_keys(
    const redis_runtime& rt, std::string_view key, const std::vector<std::string>& tags) const {
  entry_location at = locate(rt, key);
  const key_bucket* bucket = at.bucket;
  return {entry_keys(std::move(at), tags), bucket};
}

CACHET_DECL script_call redis_store_core::read_call(redis_runtime& rt, read_target target,
                                                    const char* mode, bool leased) {
  return script_call{
      std::move(target.keys),
      {mode, std::to_string(now_ms()), rt.fresh_token(), std::to_string(load_window_ms()),
       target.bucket->counter_base, std::to_string(leased ? lease_ms_ : 0), rt.lease_holder(),
       reports_hit_lifetime_ ? "1" : "0"}};
}

CACHET_DECL boost::asio::awaitable<std::vector<resp3::value>> redis_store_core::read_hits(
    redis_runtime& rt, const std::vector<read_target>& targets) {
  const std::size_t per_call = reports_hit_lifetime_ ? 3 : 2;
  // Reads only: written to a connection that drops before the replies, they go again on the next
  // one instead of failing with outcome_unknown.
  const resp3::request_options reads{.idempotent = true};
  std::vector<resp3::value> replies;
  if (resp3::client* server = rt.link().server()) {
    // Encoded straight into one request: a cluster's commands carry their keys for routing.
    resp3::request pipeline;
    for (const read_target& t : targets) {
      const std::string& entry = t.keys.front();
      pipeline.push("HMGET", entry, "v", "g", "f");
      pipeline.push("MGET", std::span<const std::string>(t.keys).subspan(1));
      if (reports_hit_lifetime_) pipeline.push("PTTL", entry);
    }
    replies = co_await server->exec(std::move(pipeline), reads);
  } else {
    std::vector<resp3::cluster_command> commands;
    commands.reserve(targets.size() * per_call);
    for (const read_target& t : targets) {
      const std::string& entry = t.keys.front();
      commands.push_back({entry, {"HMGET", entry, "v", "g", "f"}});
      resp3::cluster_command tokens{entry, {"MGET"}};
      tokens.args.insert(tokens.args.end(), t.keys.begin() + 1, t.keys.end());
      commands.push_back(std::move(tokens));
      if (reports_hit_lifetime_) commands.push_back({entry, {"PTTL", entry}});
    }
    replies = co_await rt.link().exec_many(std::move(commands), reads);
  }
  if (replies.size() != targets.size() * per_call) {
    throw resp3::request_error(resp3::error::unexpected_reply,
                               "cachet::redis: a pipelined read got the wrong number of replies");
  }
  const std::int64_t now = now_ms();
  std::vector<resp3::value> hits(targets.size());
  for (std::size_t i = 0; i < targets.size(); ++i) {
    resp3::value* at = &replies[i * per_call];
    if (!current_and_fresh(targets[i], at[0], at[1], now)) continue;
    if (reports_hit_lifetime_ && at[2].type != resp3::type::number) continue;
    resp3::value& hit = hits[i];
    hit.type = resp3::type::array;
    hit.elements.resize(per_call + 1);
    hit.elements[0].type = resp3::type::number;
    hit.elements[0].integer = 1;
    hit.elements[1] = std::move(at[0].elements[0]);
    hit.elements[2].type = resp3::type::blob_string;
    if (!at[0].elements[2].is_null()) hit.elements[2].text = std::move(at[0].elements[2].text);
    if (reports_hit_lifetime_) hit.elements[3] = std::move(at[2]);
  }
  co_return hits;
}

CACHET_DECL bool redis_store_core::current_and_fresh(const read_target& target,
                                                     const resp3::value& entry,
                                                     const resp3::value& tokens, std::int64_t now) {
  const std::vector<std::string>& keys = target.keys;
  if (entry.type != resp3::type::array || entry.elements.size() != 3) return false;
  if (tokens.type != resp3::type::array || tokens.elements.size() + 1 != keys.size()) return false;
  const resp3::value& v = entry.elements[0];
  const resp3::value& g = entry.elements[1];
  const resp3::value& f = entry.elements[2];
  if (!v.is_string() || !g.is_string()) return false;
  const std::string& base = target.bucket->counter_base;
  std::string_view stamp = g.text;
  for (std::size_t k = 1; k < keys.size(); ++k) {
    const resp3::value& token = tokens.elements[k - 1];
    if (!token.is_string()) return false;  // missing (the script creates it), or not a string
    const std::string_view name = std::string_view(keys[k]).substr(base.size());
    const std::size_t line = name.size() + 1 + token.text.size() + 1;
    if (stamp.size() < line || !stamp.starts_with(name) || stamp[name.size()] != '=' ||
        stamp.substr(name.size() + 1, token.text.size()) != token.text || stamp[line - 1] != '\n') {
      return false;
    }
    stamp.remove_prefix(line);
  }
  if (!stamp.empty()) return false;
  if (f.is_null()) return true;
  if (!f.is_string()) return false;
  std::int64_t until = 0;
  const auto [end, ec] = std::from_chars(f.text.data(), f.text.data() + f.text.size(), until);
  return ec == std::errc{} && end == f.text.data() + f.text.size() && until > now;
}

CACHET_DECL script_call redis_store_core::write_call(const redis_runtime& rt,
                                                     const entry_write& w) const {
  // Redis keeps milliseconds; rounding up keeps a tiny ttl from meaning "forever". With
  // fail_safe the entry outlives its freshness by max_stale, for stale().
  const std::int64_t px =
      w.ttl.count() > 0 ? std::chrono::ceil<std::chrono::milliseconds>(w.ttl + max_stale_).count()
                        : 0;
  entry_location at = locate(rt, w.key);
  const key_bucket& bucket = *at.bucket;
  return script_call{entry_keys(std::move(at), w.tags),
                     {w.permit, w.stamp, w.value, w.fresh_until, std::to_string(px),
                      bucket.counter_base, w.lease_holder}};
}

CACHET_DECL boost::asio::awaitable<void> redis_store_core::write(redis_runtime& rt, entry_write w,
                                                                 ticket t) {
  std::vector<entry_write> writes;
  writes.push_back(std::move(w));
  co_await write_many(rt, std::move(writes), std::move(t));
}

CACHET_DECL boost::asio::awaitable<void> redis_store_core::write_many(
    redis_runtime& rt, std::vector<entry_write> writes, ticket t) {
  std::exception_ptr failure;
  if (rt.pending_invalidations() != 0) failure = co_await rt.confirm_invalidations();
  if (failure) {
    operation_failed(t, failure);
    co_return;
  }
  try {
    std::vector<script_call> calls;
    calls.reserve(writes.size());
    for (const entry_write& w : writes) calls.push_back(write_call(rt, w));
    std::vector<resp3::value> replies = co_await rt.link().eval_many(write_entry_script(), calls);
    t.answered();
    for (const auto& reply : replies) {
      if (reply.is_error()) counts_.backend_errors.fetch_add(1, std::memory_order_relaxed);
    }
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) operation_failed(t, failure);
}

CACHET_DECL boost::asio::awaitable<void> redis_store_core::give_up_lease(redis_runtime& rt,
                                                                         std::string key) {
  ticket t = admit(rt);
  if (!t.admitted()) co_return;
  std::exception_ptr failure;
  try {
    entry_location at = locate(rt, key);
    std::vector<script_call> calls{script_call{{std::move(at.key)}, {rt.lease_holder()}}};
    co_await rt.link().eval_many(release_lease_script(), calls);
    t.answered();
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) operation_failed(t, failure);
}

CACHET_DECL bool redis_store_core::classify(const resp3::value& reply, read_state& out,
                                            std::size_t index, hit_decoder decode) {
  if (reply.is_error()) {
    // OOM under noeviction, say: Redis answered, but this read gave no permit.
    counts_.backend_errors.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  const auto& parts = reply.as_array();
  const std::int64_t status = parts.empty() ? 2 : parts[0].as_int();
  if (status == 1) {
    // {1, v, f or ''}, and the PTTL when this store asked for it (see store_entry.hpp).
    if (parts.size() != (reports_hit_lifetime_ ? 4u : 3u)) {
      throw resp3::request_error(resp3::error::unexpected_reply,
                                 "cachet::redis: the read script's hit has " +
                                     std::to_string(parts.size()) + " parts, expected " +
                                     (reports_hit_lifetime_ ? "4" : "3") +
                                     "; a script of another cachet version answered");
    }
    const std::string& f = parts[2].as_string();
    std::int64_t until = 0;
    auto [end, ec] = std::from_chars(f.data(), f.data() + f.size(), until);
    if (ec == std::errc{} && end == f.data() + f.size()) out.fresh_until = until;
    if (reports_hit_lifetime_) {
      const std::int64_t pttl = parts[3].as_int();
      if (pttl >= 0) out.remaining_ms = pttl;
    }
    if (out.fresh_until >= 0) {
      const std::int64_t fresh_for = std::max<std::int64_t>(out.fresh_until - now_ms(), 0);
      if (out.remaining_ms < 0 || fresh_for < out.remaining_ms) out.remaining_ms = fresh_for;
    }
    if (!decode(index, parts[1].as_string())) {
      counts_.decode_errors.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
    out.is_hit = true;
    counts_.hits.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (status == 0 && parts.size() >= 4) {
    out.stamp = parts[1].as_string();
    out.permit = parts[2].as_string();
    if (parts.size() >= 5) out.lease = parts[4].as_string();
    const std::string& why = parts[3].as_string();
    if (why == "expired") {
      counts_.expirations.fetch_add(1, std::memory_order_relaxed);
    } else if (why == "invalidated") {
      counts_.invalidations.fetch_add(1, std::memory_order_relaxed);
    } else if (why == "malformed") {
      counts_.decode_errors.fetch_add(1, std::memory_order_relaxed);
    }
    return false;
  }
  // Not cachet's: the entry or a counter is of another type. Left as it is, and not written.
  counts_.decode_errors.fetch_add(1, std::memory_order_relaxed);
  return false;
}

CACHET_DECL boost::asio::awaitable<std::vector<redis_store_core::read_state>>
redis_store_core::read_many(redis_runtime& rt, std::span<const std::string> keys,
                            std::span<const std::vector<std::string>> tags, ticket t, bool leased,
                            const char* mode, hit_decoder decode) {
  const std::size_t n = keys.size();
  std::vector<read_state> out(n);
  if (n == 0) co_return out;
  std::exception_ptr failure;
  if (rt.pending_invalidations() != 0) failure = co_await rt.confirm_invalidations();
  if (failure) {
    operation_failed(t, failure);
    co_return out;
  }
  try {
    std::vector<read_target> targets;
    targets.reserve(n);
    for (std::size_t i = 0; i < n; ++i) targets.push_back(read_keys(rt, keys[i], tags[i]));
    std::vector<resp3::value> replies;
    const bool hits_first =
        std::string_view(mode) == "load" && reads_find_entries_.load(std::memory_order_relaxed);
    if (hits_first) {
      replies = co_await read_hits(rt, targets);
    } else {
      replies.resize(n);
    }
    // The script's arguments only for the reads it makes.
    std::vector<script_call> scripted;
    std::vector<std::size_t> scripted_at;
    for (std::size_t i = 0; i < n; ++i) {
      if (hits_first && !replies[i].is_null()) continue;
      scripted.push_back(read_call(rt, std::move(targets[i]), mode, leased));
      scripted_at.push_back(i);
    }
    if (!scripted.empty()) {
      std::vector<resp3::value> answers =
          co_await rt.link().eval_many(read_entry_script(), scripted);
      for (std::size_t k = 0; k < answers.size(); ++k)
        replies[scripted_at[k]] = std::move(answers[k]);
    }
    t.answered();
    std::vector<std::size_t> unreadable;
    std::size_t found = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (classify(replies[i], out[i], i, decode)) unreadable.push_back(i);
      if (out[i].is_hit) ++found;
    }
    reads_find_entries_.store(2 * found >= n, std::memory_order_relaxed);
    if (!unreadable.empty()) {
      std::vector<script_call> again;
      for (std::size_t i : unreadable)
        again.push_back(read_call(rt, read_keys(rt, keys[i], tags[i]), "reload", leased));
      replies = co_await rt.link().eval_many(read_entry_script(), again);
      for (std::size_t k = 0; k < unreadable.size(); ++k) {
        classify(replies[k], out[unreadable[k]], unreadable[k], decode);
      }
    }
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) {
    operation_failed(t, failure);
    co_return std::vector<read_state>(n);
  }
  co_return out;
}

CACHET_DECL boost::asio::awaitable<redis_store_core::read_state> redis_store_core::read(
    redis_runtime& rt, const std::string& key, const std::vector<std::string>& tags, ticket t,
    const char* mode, hit_decoder decode) {
  std::vector<read_state> found =
      co_await read_many(rt, std::span(&key, 1), std::span(&tags, 1), std::move(t),
                         /*leased=*/true, mode, decode);
  co_return std::move(found.front());
}

CACHET_DECL redis_store_core::read_state redis_store_core::read_now(
    redis_runtime& rt, const std::string& key, const std::vector<std::string>& tags, ticket t,
    const char* mode, hit_decoder decode) {
  return rt.run(read(rt, key, tags, std::move(t), mode, decode));
}

CACHET_DECL boost::asio::awaitable<redis_store_core::read_state> redis_store_core::read_on_io(
    redis_runtime& rt, const std::string& key, const std::vector<std::string>& tags, ticket t,
    hit_decoder decode) {
  return on_io(rt, read(rt, key, tags, std::move(t), "load", decode));
}

CACHET_DECL boost::asio::awaitable<std::vector<redis_store_core::read_state>>
redis_store_core::read_many_on_io(redis_runtime& rt, const std::vector<std::string>& keys,
                                  const std::vector<std::vector<std::string>>& tags, ticket t,
                                  hit_decoder decode) {
  return on_io(rt, read_many(rt, keys, tags, std::move(t), /*leased=*/false, "load", decode));
}

CACHET_DECL boost::asio::awaitable<bool> redis_store_core::find_stored(redis_runtime& rt,
                                                                       std::string key,
                                                                       bool expired_too, ticket t,
                                                                       hit_decoder decode) {
  std::exception_ptr failure;
  if (rt.pending_invalidations() != 0) failure = co_await rt.confirm_invalidations();
  if (failure) {
    operation_failed(t, failure);
    co_return false;
  }
  try {
    entry_location at = locate(rt, key);
    std::vector<script_call> calls{script_call{{std::move(at.key)}, {at.bucket->counter_base}}};
    std::vector<resp3::value> replies = co_await rt.link().eval_many(peek_entry_script(), calls);
    t.answered();
    const auto& parts = replies.front().as_array();
    if (parts.empty() || parts[0].as_int() != 1 || parts.size() < 3) {
      if (!parts.empty() && parts[0].as_int() == 2) {
        counts_.decode_errors.fetch_add(1, std::memory_order_relaxed);
      }
      co_return false;
    }
    if (!decode(0, parts[1].as_string())) {
      counts_.decode_errors.fetch_add(1, std::memory_order_relaxed);
      co_return false;
    }
    const std::string& fresh_until_text = parts[2].as_string();
    if (fresh_until_text.empty()) co_return true;
    std::int64_t fresh_until = 0;
    auto [end, ec] = std::from_chars(
        fresh_until_text.data(), fresh_until_text.data() + fresh_until_text.size(), fresh_until);
    if (ec != std::errc{} || end != fresh_until_text.data() + fresh_until_text.size()) {
      counts_.decode_errors.fetch_add(1, std::memory_order_relaxed);
      co_return false;
    }
    const std::int64_t now = now_ms();
    if (now < fresh_until) co_return true;
    // Redis drops the entry max_stale after its freshness by the server's clock; the store's
    // own clock (an injected one, say) must agree that it is not older than that.
    const std::int64_t oldest =
        now - std::chrono::ceil<std::chrono::milliseconds>(max_stale_).count();
    co_return expired_too&& oldest < fresh_until;
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) operation_failed(t, failure);
  co_return false;
}

CACHET_DECL bool redis_store_core::find_stored_now(redis_runtime& rt, std::string key,
                                                   bool expired_too, ticket t, hit_decoder decode) {
  return rt.run(find_stored(rt, std::move(key), expired_too, std::move(t), decode));
}

CACHET_DECL boost::asio::awaitable<bool> redis_store_core::find_stored_on_io(
    redis_runtime& rt, std::string key, bool expired_too, ticket t, hit_decoder decode) {
  return on_io(rt, find_stored(rt, std::move(key), expired_too, std::move(t), decode));
}

CACHET_DECL void redis_store_core::write_now(redis_runtime& rt, entry_write w, ticket t) {
  rt.run(write(rt, std::move(w), std::move(t)));
}

CACHET_DECL boost::asio::awaitable<void> redis_store_core::write_on_io(redis_runtime& rt,
                                                                       entry_write w, ticket t) {
  return on_io(rt, write(rt, std::move(w), std::move(t)));
}

CACHET_DECL boost::asio::awaitable<void> redis_store_core::write_many_on_io(
    redis_runtime& rt, std::vector<entry_write> writes, ticket t) {
  return on_io(rt, write_many(rt, std::move(writes), std::move(t)));
}

CACHET_DECL void redis_store_core::give_up_lease_now(redis_runtime& rt, std::string key) {
  rt.run(give_up_lease(rt, std::move(key)));
}

CACHET_DECL boost::asio::awaitable<void> redis_store_core::give_up_lease_on_io(redis_runtime& rt,
                                                                               std::string key) {
  return on_io(rt, give_up_lease(rt, std::move(key)));
}

CACHET_DECL bool redis_store_core::due_for_refresh(const read_state& found) const {
  if (refresh_percent_ == 0 || found.fresh_until < 0) return false;
  const std::int64_t ttl_ms = std::chrono::ceil<std::chrono::milliseconds>(ttl_).count();
  const std::int64_t left = found.fresh_until - now_ms();
  return left * 100 < ttl_ms * static_cast<std::int64_t>(100 - refresh_percent_);
}

CACHET_DECL std::chrono::milliseconds redis_store_core::lease_pause(const std::string& lease,
                                                                    unsigned polls) const {
  std::int64_t until = 0;
  std::from_chars(lease.data(), lease.data() + lease.size(), until);
  const std::int64_t left = std::max<std::int64_t>(until - now_ms(), 0);
  const std::int64_t growing = polls < 6 ? std::int64_t{1} << polls : 50;
  return std::chrono::milliseconds(std::min({growing, std::int64_t{50}, left}));
}

CACHET_DECL void redis_store_core::throw_recursion() {
  throw cachet::error(
      "cachet::cached: the function called its own cache with the same arguments while "
      "computing them, which would wait for itself forever; break the recursion");
}

CACHET_DECL std::shared_ptr<redis_store_core::flight_base> redis_store_core::join(
    flight_entry& entry, const std::string& key) {
  if (!entry.f) {
    entry.f = make_flight_(key, std::string(), std::string(), entry.c->epoch);
    entry.f->leader = entry.c->leader;
    entry.f->led_blocking = true;
    entry.c->joined = entry.f;
  }
  ++entry.f->joiners;
  return entry.f;
}

CACHET_DECL std::pair<std::shared_ptr<redis_store_core::flight_base>, bool>
redis_store_core::enter_flight(const std::string& key, read_state found, bool blocking) {
  std::lock_guard lock(flights_mutex_);
  count_locked(counts_.misses);
  auto it = flights_.find(key);
  if (it != flights_.end() && it->second.joinable(found)) return {join(it->second, key), false};
  std::shared_ptr<flight_base> f =
      make_flight_(key, std::move(found.stamp), std::move(found.permit), found.epoch);
  f->led_blocking = blocking;
  if (it != flights_.end()) {
    // The older flight (or claim) still answers its waiters but no longer writes.
    it->second = flight_entry{f};
  } else {
    flights_.emplace(f->key, flight_entry{f});
  }
  return {std::move(f), true};
}

CACHET_DECL std::shared_ptr<redis_store_core::flight_base> redis_store_core::enter_flight_if_alone(
    const std::string& key, read_state found) {
  std::lock_guard lock(flights_mutex_);
  if (flights_.contains(key)) return nullptr;
  std::shared_ptr<flight_base> f =
      make_flight_(key, std::move(found.stamp), std::move(found.permit), found.epoch);
  f->led_blocking = true;
  flights_.emplace(f->key, flight_entry{f});
  return f;
}

CACHET_DECL std::shared_ptr<redis_store_core::flight_base> redis_store_core::enter_claim(
    const std::string& key, claim& mine, bool skipped) {
  std::lock_guard lock(flights_mutex_);
  count_locked(counts_.misses);
  if (skipped) count_locked(counts_.unread_skips);
  auto [it, entered] = flights_.try_emplace(key);
  read_state unread;
  unread.epoch = mine.epoch;
  if (!entered && it->second.joinable(unread)) return join(it->second, key);
  it->second = flight_entry{nullptr, &mine};  // an older one still answers its waiters
  return nullptr;
}

CACHET_DECL std::shared_ptr<redis_store_core::flight_base> redis_store_core::leave(
    const std::string& key, claim& mine, bool loaded) {
  std::lock_guard lock(flights_mutex_);
  if (loaded) count_locked(counts_.unread_loads);
  if (auto it = flights_.find(key); it != flights_.end() && it->second.c == &mine) {
    flights_.erase(it);
  }
  return std::move(mine.joined);
}

CACHET_DECL std::string redis_store_core::adopt(flight_base& f, read_state& again) {
  std::lock_guard lock(flights_mutex_);
  f.stamp = std::move(again.stamp);
  f.permit = std::move(again.permit);
  return std::move(again.lease);
}

CACHET_DECL bool redis_store_core::may_write(const flight_base& f) {
  if (f.stamp.empty()) return false;  // no permit: Redis was not read, it is not written
  std::lock_guard lock(flights_mutex_);
  auto it = flights_.find(f.key);
  return it != flights_.end() && it->second.f.get() == &f && !f.doomed;
}

CACHET_DECL void redis_store_core::doom(std::string_view key) {
  std::lock_guard lock(flights_mutex_);
  if (auto it = flights_.find(key); it != flights_.end()) it->second.doom();
}

CACHET_DECL void redis_store_core::doom_all() {
  std::lock_guard lock(flights_mutex_);
  for (auto& [key, entry] : flights_) entry.doom();
}

CACHET_DECL bool redis_store_core::retire(const flight_base& f) {
  std::lock_guard lock(flights_mutex_);
  auto it = flights_.find(f.key);
  if (it != flights_.end() && it->second.f.get() == &f) flights_.erase(it);
  return f.joiners > 0;
}

CACHET_DECL void redis_store_core::count_miss() {
  std::lock_guard lock(flights_mutex_);
  count_locked(counts_.misses);
}

CACHET_DECL void redis_store_core::keep_lease(std::optional<lease_keeper>& keeper,
                                              redis_runtime& rt, const flight_base& f) {
  if (!f.holds_lease) return;
  keeper.emplace(rt, locate(rt, f.key).key, rt.lease_holder(), lease_ms_,
                 [this] { return now_ms(); });
}

CACHET_DECL void redis_store_core::complete(flight_base& f, std::exception_ptr error) {
  std::vector<std::unique_ptr<async_waiter>> waiters;
  {
    std::lock_guard lock(f.m);
    if (error) f.error = std::move(error);
    f.done = true;
    waiters.swap(f.async_waiters);
  }
  f.done_cv.notify_all();
  for (auto& w : waiters) w->resume();
}

CACHET_DECL void redis_store_core::wait_done(flight_base& f) {
  if (f.leader == std::this_thread::get_id()) throw_recursion();
  std::unique_lock lock(f.m);
  f.done_cv.wait(lock, [&] { return f.done; });
}

CACHET_DECL boost::asio::awaitable<void> redis_store_core::wait_done_async(flight_base& f) {
  // The initiation is a named, trivially destructible object: g++ 12 mishandles temporaries
  // with destructors in a co_await expression.
  const done_initiation initiation{&f};
  co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void()>(
      initiation, boost::asio::use_awaitable);
}

CACHET_DECL boost::asio::awaitable<bool> redis_store_core::is_own_load(flight_base& f) {
  const boost::asio::cancellation_state state = co_await boost::asio::this_coro::cancellation_state;
  const boost::asio::cancellation_slot mine = state.slot();
  bool own = false;
  {
    std::lock_guard lock(f.m);
    if (!f.done) {
      own = f.led_blocking ? f.leader == std::this_thread::get_id()
                           : mine.is_connected() && mine == f.load_slot;
    }
  }
  co_return own;
}

CACHET_DECL void redis_store_core::publish(flight_base& f, const value_ops& ops, const void* slot,
                                           std::exception_ptr error) {
  if (slot != nullptr) {
    std::lock_guard lock(f.m);
    ops.keep(f, slot);
  }
  complete(f, std::move(error));
}

CACHET_DECL void redis_store_core::take_result(flight_base& f, const value_ops& ops, void* slot) {
  std::lock_guard lock(f.m);
  if (f.error) std::rethrow_exception(f.error);
  ops.take(f, slot);
}

CACHET_DECL redis_store_core::leader::~leader() {
  if (!published) {
    publish(*f, *ops, nullptr,
            std::make_exception_ptr(cachet::error(
                "cachet::redis: the computation this call waited for was abandoned (its "
                "coroutine was destroyed before it finished); call again")));
  }
  if (!retired) store->retire(*f);
}

CACHET_DECL void redis_store_core::leader::succeed(const void* slot) {
  store->counts_.loads.fetch_add(1, std::memory_order_relaxed);
  published = true;
  publish(*f, *ops, slot, nullptr);
}

CACHET_DECL void redis_store_core::leader::succeed_unwritten(const void* slot) {
  store->counts_.loads.fetch_add(1, std::memory_order_relaxed);
  published = true;
  retired = true;
  publish(*f, *ops, store->retire(*f) ? slot : nullptr, nullptr);
}

CACHET_DECL void redis_store_core::leader::fail(std::exception_ptr error) {
  store->counts_.load_errors.fetch_add(1, std::memory_order_relaxed);
  published = true;
  publish(*f, *ops, nullptr, std::move(error));
}

CACHET_DECL void redis_store_core::leader::answer(const void* slot) {
  published = true;
  retired = true;
  publish(*f, *ops, store->retire(*f) ? slot : nullptr, nullptr);
}

CACHET_DECL std::optional<redis_store_core::entry_write> redis_store_core::encode(
    const redis_runtime& rt, const flight_base& f, const std::vector<std::string>& tags,
    const value_ops& ops, const void* slot) {
  try {
    entry_write w{f.key,
                  tags,
                  f.stamp,
                  f.permit,
                  ops.encode(slot),
                  {},
                  {},
                  jittered_ttl(ttl_, jitter_percent_)};
    if (f.holds_lease) w.lease_holder = rt.lease_holder();
    if (max_stale_.count() > 0 || refresh_percent_ > 0) {
      w.fresh_until =
          std::to_string(now_ms() + std::chrono::ceil<std::chrono::milliseconds>(w.ttl).count());
    }
    return w;
  } catch (...) {
    backend_failed(std::current_exception());
    return std::nullopt;
  }
}

CACHET_DECL std::optional<redis_store_core::prepared_write> redis_store_core::prepare_write(
    redis_runtime& rt, const flight_base& f, const std::vector<std::string>& tags,
    const value_ops& ops, const void* slot) {
  if (!may_write(f)) return std::nullopt;
  std::optional<entry_write> w = encode(rt, f, tags, ops, slot);
  if (!w) return std::nullopt;
  ticket permit = admit(rt);
  if (!permit.admitted()) return std::nullopt;
  return prepared_write{std::move(*w), std::move(permit)};
}

CACHET_DECL void redis_store_core::blocking_miss(redis_runtime& rt, const std::string& key,
                                                 const std::vector<std::string>& tags,
                                                 read_state found, miss_target to,
                                                 callback_ref<void(std::string_view)> compute) {
  std::string lease = found.lease;
  std::pair<std::shared_ptr<flight_base>, bool> joined =
      enter_flight(key, std::move(found), /*blocking=*/true);
  if (!joined.second) {
    wait_done(*joined.first);
    take_result(*joined.first, *to.ops, to.slot);
    return;
  }
  leader lead{this, std::move(joined.first), *to.ops};
  flight_base& f = *lead.f;
  while (held_by_another(lease)) {
    std::this_thread::sleep_for(lease_pause(lease, lead.polls++));
    read_state again = read_now(rt, f.key, tags, admit(rt), "load", to.decode);
    if (again.is_hit) {
      lead.answer(to.slot);
      if (to.life != nullptr) to.life->remaining_ms = again.remaining_ms;
      return;
    }
    lease = adopt(f, again);
  }
  f.holds_lease = lease == "mine";
  try {
    std::optional<lease_keeper> keeper;
    keep_lease(keeper, rt, f);
    compute(f.key);
  } catch (...) {
    lead.fail(std::current_exception());
    if (f.holds_lease) give_up_lease_now(rt, f.key);
    throw;
  }
  lead.succeed(to.slot);
  if (std::optional<prepared_write> w = prepare_write(rt, f, tags, *to.ops, to.slot)) {
    write_now(rt, std::move(w->entry), std::move(w->admission));
  } else if (f.holds_lease) {
    give_up_lease_now(rt, f.key);
  }
}

CACHET_DECL boost::asio::awaitable<void> redis_store_core::async_miss(
    redis_runtime& rt, const std::string& key, const std::vector<std::string>& tags,
    read_state found, miss_target to, async_compute compute) {
  std::string lease = found.lease;
  // No structured bindings in coroutines: g++ 12 destroys their hidden object twice.
  std::pair<std::shared_ptr<flight_base>, bool> joined =
      enter_flight(key, std::move(found), /*blocking=*/false);
  if (!joined.second) {
    const bool own = co_await is_own_load(*joined.first);
    if (own) throw_recursion();
    co_await wait_done_async(*joined.first);
    take_result(*joined.first, *to.ops, to.slot);
    co_return;
  }

  leader lead{this, std::move(joined.first), *to.ops};
  flight_base& f = *lead.f;
  if (held_by_another(lease)) {
    boost::asio::steady_timer pause(co_await boost::asio::this_coro::executor);
    while (held_by_another(lease)) {
      pause.expires_after(lease_pause(lease, lead.polls++));
      co_await pause.async_wait(boost::asio::use_awaitable);
      read_state again = co_await read_on_io(rt, f.key, tags, admit(rt), to.decode);
      if (again.is_hit) {
        lead.answer(to.slot);
        if (to.life != nullptr) to.life->remaining_ms = again.remaining_ms;
        co_return;
      }
      lease = adopt(f, again);
    }
  }
  f.holds_lease = lease == "mine";
  std::exception_ptr failure;
  try {
    std::optional<lease_keeper> keeper;
    keep_lease(keeper, rt, f);
    co_await compute(lead.f);
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) {
    lead.fail(failure);
    if (f.holds_lease) co_await give_up_lease_on_io(rt, f.key);
    std::rethrow_exception(failure);
  }
  if (f.stamp.empty()) {
    lead.succeed_unwritten(to.slot);
    co_return;
  }
  lead.succeed(to.slot);
  std::optional<prepared_write> w = prepare_write(rt, f, tags, *to.ops, to.slot);
  if (w) {
    co_await write_on_io(rt, std::move(w->entry), std::move(w->admission));
  } else if (f.holds_lease) {
    co_await give_up_lease_on_io(rt, f.key);
  }
}

CACHET_DECL void redis_store_core::unread_miss(const std::string& key, std::uint64_t epoch,
                                               bool skipped, const value_ops& ops, void* slot,
                                               callback_ref<void(std::string_view)> compute) {
  claim mine(epoch);
  if (std::shared_ptr<flight_base> joined = enter_claim(key, mine, skipped)) {
    wait_done(*joined);
    take_result(*joined, ops, slot);
    return;
  }
  try {
    compute(key);
  } catch (...) {
    counts_.load_errors.fetch_add(1, std::memory_order_relaxed);
    if (std::shared_ptr<flight_base> f = leave(key, mine, false)) {
      publish(*f, ops, nullptr, std::current_exception());
    }
    throw;
  }
  if (std::shared_ptr<flight_base> f = leave(key, mine, true)) publish(*f, ops, slot, nullptr);
}

CACHET_DECL cachet::stats redis_store_core::stats() const {
  cachet::stats s;
  s.hits = counts_.hits.load(std::memory_order_relaxed);
  s.misses = counts_.misses.load(std::memory_order_relaxed);
  s.loads = counts_.loads.load(std::memory_order_relaxed) +
            counts_.unread_loads.load(std::memory_order_relaxed);
  s.load_errors = counts_.load_errors.load(std::memory_order_relaxed);
  s.expirations = counts_.expirations.load(std::memory_order_relaxed);
  s.invalidations = counts_.invalidations.load(std::memory_order_relaxed);
  s.decode_errors = counts_.decode_errors.load(std::memory_order_relaxed);
  s.backend_errors = counts_.backend_errors.load(std::memory_order_relaxed);
  s.stale_served = counts_.stale_served.load(std::memory_order_relaxed);
  s.backend_skipped = counts_.backend_skipped.load(std::memory_order_relaxed) +
                      counts_.unread_skips.load(std::memory_order_relaxed);
  return s;
}

}  // namespace cachet::detail

#endif
