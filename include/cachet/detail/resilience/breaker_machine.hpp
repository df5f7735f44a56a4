#ifndef CACHET_DETAIL_RESILIENCE_BREAKER_MACHINE_HPP
#define CACHET_DETAIL_RESILIENCE_BREAKER_MACHINE_HPP

#include <cachet/clock.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace cachet {

/// The state of a circuit breaker.
enum class circuit_state {
  closed,     ///< calls go through; failures are counted
  open,       ///< calls fail fast with cachet::circuit_open until the cooldown ends
  half_open,  ///< a bounded number of probe calls go through; one success closes, a failure opens
};

/// What a circuit breaker has seen since it was made.
struct breaker_counters {
  std::uint64_t successes = 0;    ///< calls that returned
  std::uint64_t failures = 0;     ///< calls that threw
  std::uint64_t rejected = 0;     ///< calls refused with cachet::circuit_open
  std::uint64_t opened = 0;       ///< transitions to open
  std::uint64_t half_opened = 0;  ///< transitions to half-open
  std::uint64_t closed = 0;       ///< transitions from half-open to closed
};

namespace detail {

struct breaker_limits {
  std::size_t consecutive_failures = 5;  // 0: this trigger is off
  clock::duration cooldown{};
  unsigned failure_rate_percent = 0;  // 0: this trigger is off
  std::size_t window = 0;             // calls the failure rate is taken over
  std::size_t probes = 1;
};

struct state_change {
  circuit_state from;
  circuit_state to;
};

// The breaker's logic, without locks, I/O or a clock of its own: every event carries the time,
// so tests drive it step by step. Not thread-safe; cachet::breaker guards it with a mutex.
class breaker_machine {
 public:
  struct admission {
    bool admitted = false;
    bool probe = false;                  // admitted as one of the half-open probes
    std::uint64_t epoch = 0;             // the state's epoch when admitted
    clock::duration retry_after{};       // when refused
    std::optional<state_change> change;  // open -> half-open, when the cooldown just ended
  };

  explicit breaker_machine(const breaker_limits& limits)
      : limits_(limits), outcomes_(limits.failure_rate_percent > 0 ? limits.window : 0) {}

  circuit_state state() const noexcept { return state_; }
  const breaker_counters& counters() const noexcept { return counters_; }

  // Ends the cooldown if its time has come; what a state query and every call do first.
  std::optional<state_change> update(clock::time_point now) {
    if (state_ == circuit_state::open && now >= open_until_) {
      probes_in_flight_ = 0;
      ++counters_.half_opened;
      return move_to(circuit_state::half_open);
    }
    return std::nullopt;
  }

  admission acquire(clock::time_point now) {
    admission result;
    result.change = update(now);
    result.epoch = epoch_;
    if (state_ == circuit_state::closed) {
      result.admitted = true;
    } else if (state_ == circuit_state::half_open && probes_in_flight_ < limits_.probes) {
      ++probes_in_flight_;
      result.admitted = true;
      result.probe = true;
    } else {
      ++counters_.rejected;
      if (state_ == circuit_state::open) result.retry_after = open_until_ - now;
    }
    return result;
  }

  // A probe's outcome decides only the half-open period it was admitted in; one that outlived it
  // (another probe already decided) just counts.
  std::optional<state_change> succeeded(const admission& call) {
    ++counters_.successes;
    if (is_current_probe(call)) {
      ++counters_.closed;
      reset_closed();
      return move_to(circuit_state::closed);
    }
    if (state_ == circuit_state::closed) {
      consecutive_failures_ = 0;
      record(false);
    }
    return std::nullopt;
  }

  std::optional<state_change> failed(const admission& call, clock::time_point now) {
    ++counters_.failures;
    if (is_current_probe(call)) return open(now);
    if (state_ != circuit_state::closed || call.probe) return std::nullopt;
    ++consecutive_failures_;
    record(true);
    const bool by_count =
        limits_.consecutive_failures > 0 && consecutive_failures_ >= limits_.consecutive_failures;
    const bool by_rate = !outcomes_.empty() && recorded_ == outcomes_.size() &&
                         failures_in_window_ * 100 >= limits_.failure_rate_percent * recorded_;
    return by_count || by_rate ? open(now) : std::nullopt;
  }

 private:
  bool is_current_probe(const admission& call) const noexcept {
    return call.probe && call.epoch == epoch_ && state_ == circuit_state::half_open;
  }

  std::optional<state_change> move_to(circuit_state to) {
    const state_change change{state_, to};
    state_ = to;
    ++epoch_;
    return change;
  }

  std::optional<state_change> open(clock::time_point now) {
    open_until_ = now + limits_.cooldown;
    ++counters_.opened;
    return move_to(circuit_state::open);
  }

  void reset_closed() {
    consecutive_failures_ = 0;
    recorded_ = next_ = failures_in_window_ = 0;
  }

  // The failure-rate window: the outcomes of the last `window` calls in a ring.
  void record(bool failure) {
    if (outcomes_.empty()) return;
    if (recorded_ == outcomes_.size()) {
      if (outcomes_[next_]) --failures_in_window_;
    } else {
      ++recorded_;
    }
    outcomes_[next_] = failure;
    if (failure) ++failures_in_window_;
    next_ = (next_ + 1) % outcomes_.size();
  }

  breaker_limits limits_;
  circuit_state state_ = circuit_state::closed;
  std::uint64_t epoch_ = 0;  // counts state changes
  clock::time_point open_until_{};
  std::size_t consecutive_failures_ = 0;
  std::size_t probes_in_flight_ = 0;
  std::vector<bool> outcomes_;
  std::size_t recorded_ = 0;
  std::size_t next_ = 0;
  std::size_t failures_in_window_ = 0;
  breaker_counters counters_;
};

}  // namespace detail
}  // namespace cachet

#endif
