#ifndef CACHET_DETAIL_REDIS_BACKEND_BREAKER_HPP
#define CACHET_DETAIL_REDIS_BACKEND_BREAKER_HPP

// The circuit breaker of a Redis backend: one per connection, shared by every store on it. It
// runs the same state machine as cachet::breaker (detail/resilience/breaker_machine.hpp); what
// differs is what it guards and how cheaply:
//
// - A guarded operation is one Redis request of a cached call (a read, a write, peek, stale). An
//   operation the breaker does not admit is skipped: the call goes on without Redis.
// - Only transport failures count as failures: timeouts, a dropped or refused connection, a
//   refused handshake, malformed bytes. An error reply (OOM on SET, WRONGTYPE, ...) is an answer:
//   Redis is up and paying its deadline costs nothing, so it does not count towards opening.
// - While closed, admitting an operation is one atomic load; recording its success, two loads
//   and an uncontended increment on the I/O thread. The mutex is taken only on failures, and
//   while half-open; while open, a refusal takes a coarse clock read and three atomics.
//
// Invalidations are not skipped (a failed invalidation must surface as an exception, and is kept
// for a replay: backend_runtime.hpp): they take a bypass ticket, always admitted, whose outcome
// still feeds the breaker. The replay is sent under the ticket of the operation that needs Redis
// next, so a probe replays first and closes the breaker only once Redis has answered.

#include <cachet/clock.hpp>
#include <cachet/detail/coarse_clock.hpp>
#include <cachet/detail/linkage.hpp>
#include <cachet/detail/resilience/breaker_machine.hpp>
#include <cachet/redis/error.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <system_error>
#include <utility>

namespace cachet::detail {

// What one Redis request's failure says about the server.
enum class redis_outcome {
  answered,   // Redis replied (an error reply included): it is up
  failed,     // no usable reply in time: the transport or the server is down
  no_verdict  // the request ended for a reason of the caller's (cancelled, misuse)
};

CACHET_DECL redis_outcome outcome_of(const std::exception_ptr& e);

class redis_backend_breaker {
 public:
  struct settings {
    std::size_t consecutive_failures = 5;  // 0: never opens
    clock::duration cooldown{};
    std::size_t half_open_probes = 1;
    const cachet::clock* time = nullptr;  // null: coarse_steady_clock
    std::function<void(circuit_state, circuit_state)> on_state_change;
  };

  // The right of one operation to use Redis. A probe (admitted while half-open) that ends
  // without a verdict counts as failed: its half-open slot must be given back, and reopening for
  // a cooldown is the safe way to do that.
  class ticket {
   public:
    ticket() = default;
    ticket(ticket&& other) noexcept
        : owner_(std::exchange(other.owner_, nullptr)),
          admission_(other.admission_),
          reported_(other.reported_) {}
    CACHET_DECL ticket& operator=(ticket&& other) noexcept;
    ticket(const ticket&) = delete;
    ticket& operator=(const ticket&) = delete;
    ~ticket() { settle(); }

    bool admitted() const noexcept { return owner_ != nullptr; }

    // Redis replied; may be called again for later requests of the same operation.
    void answered() {
      if (owner_ == nullptr) return;
      reported_ = true;
      owner_->succeeded(admission_);
    }

    CACHET_DECL void report(const std::exception_ptr& e);

   private:
    friend class redis_backend_breaker;
    ticket(redis_backend_breaker* owner, const breaker_machine::admission& a)
        : owner_(owner), admission_(a) {}

    void settle() {
      if (owner_ != nullptr && admission_.probe && !reported_) owner_->failed(admission_);
    }

    redis_backend_breaker* owner_ = nullptr;
    breaker_machine::admission admission_{};
    bool reported_ = false;
  };

  CACHET_DECL explicit redis_backend_breaker(settings s);

  redis_backend_breaker(const redis_backend_breaker&) = delete;
  redis_backend_breaker& operator=(const redis_backend_breaker&) = delete;

  // A ticket for an operation of a cached call; not admitted while the circuit is open, or
  // half-open with its probes under way.
  ticket admit() {
    const circuit_state mirrored = state_.load(std::memory_order_acquire);
    if (mirrored == circuit_state::closed) return ticket(this, closed_admission());
    return admit_slowly(mirrored);
  }

  // A ticket that is always admitted (invalidations): its outcome is recorded, but it never
  // takes a half-open probe's place.
  ticket bypass() { return ticket(this, closed_admission()); }

  CACHET_DECL circuit_state state();

  CACHET_DECL breaker_counters counters() const;

 private:
  static breaker_machine::admission closed_admission() {
    breaker_machine::admission a;
    a.admitted = true;
    return a;
  }

  CACHET_DECL ticket admit_slowly(circuit_state mirrored);

  CACHET_DECL void succeeded(const breaker_machine::admission& a);

  CACHET_DECL void failed(const breaker_machine::admission& a);

  // Runs a step of the machine under the lock and mirrors its state for the lock-free paths.
  template <class Step>
  std::optional<state_change> locked(Step&& step) {
    std::lock_guard lock(mutex_);
    std::optional<state_change> change = step();
    state_.store(machine_.state(), std::memory_order_release);
    return change;
  }

  // Outside the lock, so the callback may ask for the state.
  void notify(const std::optional<state_change>& change) const {
    if (change && on_state_change_) on_state_change_(change->from, change->to);
  }

  const cachet::clock* time_;
  std::function<void(circuit_state, circuit_state)> on_state_change_;
  clock::duration cooldown_;
  mutable std::mutex mutex_;
  breaker_machine machine_;
  std::atomic<circuit_state> state_{circuit_state::closed};
  std::atomic<bool> failing_{false};
  std::atomic<clock::duration::rep> open_until_{0};
  std::atomic<std::uint64_t> quiet_successes_{0};
  std::atomic<std::uint64_t> quiet_rejections_{0};
};

}  // namespace cachet::detail

#if CACHET_INCLUDE_BODIES
#include <cachet/detail/redis/impl/backend_breaker.ipp>
#endif

#endif
