#ifndef CACHET_DETAIL_REDIS_IMPL_BACKEND_BREAKER_IPP
#define CACHET_DETAIL_REDIS_IMPL_BACKEND_BREAKER_IPP

// Bodies of <cachet/detail/redis/backend_breaker.hpp>; see <cachet/detail/linkage.hpp>.

#include <cachet/detail/redis/backend_breaker.hpp>

namespace cachet::detail {

CACHET_DECL redis_outcome outcome_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const resp3::server_error&) {
    return redis_outcome::answered;
  } catch (const resp3::request_error& error) {
    const std::error_code code = error.code();
    if (code == resp3::error::unexpected_reply) return redis_outcome::answered;
    if (code == resp3::error::cancelled || code == resp3::error::blocking_call_on_io_thread ||
        code == resp3::error::invalid_url || code == resp3::error::queue_full) {
      return redis_outcome::no_verdict;
    }
    return redis_outcome::failed;  // timeouts, lost connections, malformed replies
  } catch (...) {
    // Thrown while reading a reply (a generation that is not a number, say): Redis answered.
    return redis_outcome::answered;
  }
}

CACHET_DECL auto redis_backend_breaker::ticket::operator=(ticket&& other) noexcept -> ticket& {
  if (this != &other) {
    settle();
    owner_ = std::exchange(other.owner_, nullptr);
    admission_ = other.admission_;
    reported_ = other.reported_;
  }
  return *this;
}

CACHET_DECL void redis_backend_breaker::ticket::report(const std::exception_ptr& e) {
  if (owner_ == nullptr) return;
  switch (outcome_of(e)) {
    case redis_outcome::answered:
      answered();
      return;
    case redis_outcome::failed:
      reported_ = true;
      owner_->failed(admission_);
      return;
    case redis_outcome::no_verdict:
      return;
  }
}

CACHET_DECL redis_backend_breaker::redis_backend_breaker(settings s)
    : time_(s.time != nullptr ? s.time : &coarse_steady_clock::instance()),
      on_state_change_(std::move(s.on_state_change)),
      cooldown_(s.cooldown),
      machine_(breaker_limits{.consecutive_failures = s.consecutive_failures,
                              .cooldown = s.cooldown,
                              .failure_rate_percent = 0,
                              .window = 0,
                              .probes = s.half_open_probes}) {}

CACHET_DECL circuit_state redis_backend_breaker::state() {
  if (state_.load(std::memory_order_acquire) == circuit_state::closed) {
    return circuit_state::closed;
  }
  const clock::time_point now = time_->now();
  circuit_state current{};
  notify(locked([&] {
    auto change = machine_.update(now);
    current = machine_.state();
    return change;
  }));
  return current;
}

CACHET_DECL breaker_counters redis_backend_breaker::counters() const {
  breaker_counters c;
  {
    std::lock_guard lock(mutex_);
    c = machine_.counters();
  }
  c.successes += quiet_successes_.load(std::memory_order_relaxed);
  c.rejected += quiet_rejections_.load(std::memory_order_relaxed);
  return c;
}

CACHET_DECL auto redis_backend_breaker::admit_slowly(circuit_state mirrored) -> ticket {
  const clock::time_point now = time_->now();
  // Open and still cooling down: refused without the lock, which every call of a degraded
  // backend would otherwise take.
  if (mirrored == circuit_state::open &&
      now.time_since_epoch().count() < open_until_.load(std::memory_order_acquire)) {
    quiet_rejections_.fetch_add(1, std::memory_order_relaxed);
    return ticket();
  }
  breaker_machine::admission a;
  notify(locked([&] {
    a = machine_.acquire(now);
    return a.change;
  }));
  return a.admitted ? ticket(this, a) : ticket();
}

CACHET_DECL void redis_backend_breaker::succeeded(const breaker_machine::admission& a) {
  // Closed with no failure counted: the machine would only count the success.
  if (!a.probe && !failing_.load(std::memory_order_acquire) &&
      state_.load(std::memory_order_acquire) == circuit_state::closed) {
    quiet_successes_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  notify(locked([&] {
    auto change = machine_.succeeded(a);
    if (machine_.state() == circuit_state::closed) {
      failing_.store(false, std::memory_order_release);
    }
    return change;
  }));
}

CACHET_DECL void redis_backend_breaker::failed(const breaker_machine::admission& a) {
  const clock::time_point now = time_->now();
  notify(locked([&] {
    auto change = machine_.failed(a, now);
    if (change && change->to == circuit_state::open) {
      open_until_.store((now + cooldown_).time_since_epoch().count(), std::memory_order_release);
    }
    // While closed the machine now counts towards opening, and the next success must reach it
    // to reset the count.
    failing_.store(machine_.state() == circuit_state::closed, std::memory_order_release);
    return change;
  }));
}

}  // namespace cachet::detail

#endif
