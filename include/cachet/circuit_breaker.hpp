#ifndef CACHET_CIRCUIT_BREAKER_HPP
#define CACHET_CIRCUIT_BREAKER_HPP

#include <cachet/circuit_open.hpp>
#include <cachet/clock.hpp>
#include <cachet/detail/policy.hpp>
#include <cachet/detail/resilience/breaker_machine.hpp>
#include <cachet/detail/resilience/option.hpp>
#include <cachet/error.hpp>
#include <cachet/options.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>

namespace cachet {

/// How a cachet::breaker decides; every field has a default.
///
///     cachet::breaker billing{{.consecutive_failures = 5, .cooldown = std::chrono::seconds(30)}};
struct breaker_settings {
  /// Consecutive failures that open the circuit; 0 turns this trigger off.
  std::size_t consecutive_failures = 5;
  /// How long the circuit stays open before it lets probes through.
  cachet::clock::duration cooldown = std::chrono::seconds(30);
  /// Opens the circuit when at least this percentage of the last `failure_rate_window` calls
  /// failed (judged once that many calls were seen since the circuit closed); 0 turns it off.
  unsigned failure_rate_percent = 0;
  /// The number of calls the failure rate is taken over.
  std::size_t failure_rate_window = 100;
  /// Calls let through at once while half-open; the first to succeed closes the circuit.
  std::size_t half_open_probes = 1;
  /// The time source; null = the steady clock. Must outlive the breaker.
  const cachet::clock* clock = nullptr;
  /// Called after each state change, outside the breaker's lock, with the old and new state;
  /// it must not throw (an exception would reach the caller whose call changed the state).
  std::function<void(circuit_state from, circuit_state to)> on_state_change = nullptr;
};

/// A circuit breaker around any call: after repeated failures it fails fast with
/// cachet::circuit_open for a cooldown, then lets a bounded number of probe calls through, and
/// closes again when one succeeds. Any exception a call throws is a failure. Thread-safe.
///
///     cachet::breaker billing{{.consecutive_failures = 5}};
///     Invoice i = billing.call([&] { return call_billing(order); });
class breaker {
 public:
  /// \throws cachet::error when the settings cannot work (no trigger, no probes, a bad rate).
  explicit breaker(breaker_settings settings = {})
      : time_(&detail::clock_or_steady(settings.clock)),
        on_state_change_(std::move(settings.on_state_change)),
        machine_(checked_limits(settings)) {}

  breaker(const breaker&) = delete;
  breaker& operator=(const breaker&) = delete;

  /// Calls `f` if the circuit lets it through, and records whether it threw.
  /// \throws cachet::circuit_open without calling `f` when the circuit is open, or half-open with
  ///         its probes under way; otherwise whatever `f` throws.
  template <class F>
  std::invoke_result_t<F> call(F&& f) {
    const detail::breaker_machine::admission admission = acquire();
    using result_type = std::invoke_result_t<F>;
    try {
      if constexpr (std::is_void_v<result_type>) {
        std::invoke(std::forward<F>(f));
        report(locked([&] { return machine_.succeeded(admission); }));
      } else {
        result_type result = std::invoke(std::forward<F>(f));
        report(locked([&] { return machine_.succeeded(admission); }));
        // A cast only for references, so a value is still returned by the implicit move.
        if constexpr (std::is_reference_v<result_type>) {
          return static_cast<result_type>(result);
        } else {
          return result;
        }
      }
    } catch (...) {
      const clock::time_point now = time_->now();
      report(locked([&] { return machine_.failed(admission, now); }));
      throw;
    }
  }

  /// The same as call() for a coroutine: `f()` returns an awaitable, whose outcome is recorded.
  /// \throws cachet::circuit_open from the awaitable when the circuit does not let it through.
  template <class F>
  std::invoke_result_t<F&> call_async(F f) {
    const detail::breaker_machine::admission admission = acquire();
    try {
      auto result = co_await f();
      report(locked([&] { return machine_.succeeded(admission); }));
      co_return result;
    } catch (...) {
      const clock::time_point now = time_->now();
      report(locked([&] { return machine_.failed(admission, now); }));
      throw;
    }
  }

  /// The current state; an open circuit whose cooldown has ended reports (and becomes)
  /// half-open.
  circuit_state state() {
    const clock::time_point now = time_->now();
    circuit_state current{};
    report(locked([&] {
      auto change = machine_.update(now);
      current = machine_.state();
      return change;
    }));
    return current;
  }

  /// What the breaker has seen so far.
  breaker_counters counters() const {
    std::lock_guard lock(mutex_);
    return machine_.counters();
  }

 private:
  static detail::breaker_limits checked_limits(const breaker_settings& s) {
    if (s.consecutive_failures == 0 && s.failure_rate_percent == 0) {
      throw error(
          "cachet::breaker: both triggers are off, so it would never open; set "
          "consecutive_failures or failure_rate_percent");
    }
    if (s.failure_rate_percent > 100 ||
        (s.failure_rate_percent > 0 && s.failure_rate_window == 0)) {
      throw error(
          "cachet::breaker: failure_rate_percent must be at most 100 and "
          "failure_rate_window at least 1");
    }
    if (s.half_open_probes == 0) {
      throw error(
          "cachet::breaker: half_open_probes is 0, so it could never close again; allow "
          "at least 1 probe");
    }
    if (s.cooldown.count() < 0) {
      throw error("cachet::breaker: the cooldown is negative; give a duration of 0 or more");
    }
    return {s.consecutive_failures, s.cooldown, s.failure_rate_percent, s.failure_rate_window,
            s.half_open_probes};
  }

  detail::breaker_machine::admission acquire() {
    const clock::time_point now = time_->now();
    detail::breaker_machine::admission admission;
    report(locked([&] {
      admission = machine_.acquire(now);
      return admission.change;
    }));
    if (!admission.admitted) throw circuit_open(admission.retry_after);
    return admission;
  }

  template <class Step>
  std::optional<detail::state_change> locked(Step&& step) {
    std::lock_guard lock(mutex_);
    return step();
  }

  // Outside the lock, so a callback may query the breaker.
  void report(const std::optional<detail::state_change>& change) const {
    if (change && on_state_change_) on_state_change_(change->from, change->to);
  }

  const cachet::clock* time_;
  std::function<void(circuit_state, circuit_state)> on_state_change_;
  mutable std::mutex mutex_;
  detail::breaker_machine machine_;
};

namespace detail {
struct circuit_breaker_kind {};
struct cooldown_kind {};
struct failure_rate_kind {};
struct half_open_probes_kind {};
}  // namespace detail

/// An option of cachet::circuit_breaker: how long the circuit stays open, in seconds (at least 1:
/// a breaker with no cooldown would never stop a call).
template <std::uint64_t Seconds>
struct cooldown : detail::option<detail::cooldown_kind> {
  static constexpr void check_values() {
    static_assert(Seconds > 0,
                  "cachet::cooldown: the circuit must stay open at least 1 second, or the breaker "
                  "never stops a call; give e.g. cachet::cooldown<30>");
  }
  static constexpr std::chrono::seconds value{Seconds};
};

/// An option of cachet::circuit_breaker: also open when at least `Percent`% of the last `Calls`
/// calls failed.
template <unsigned Percent, std::size_t Calls>
struct failure_rate : detail::option<detail::failure_rate_kind> {
  static constexpr void check_values() {
    static_assert(Percent > 0 && Percent <= 100,
                  "cachet::failure_rate: the percentage must be from 1 to 100, e.g. "
                  "cachet::failure_rate<50, 20>");
    static_assert(Calls > 0,
                  "cachet::failure_rate: the window must hold at least 1 call, e.g. "
                  "cachet::failure_rate<50, 20>");
  }
  static constexpr unsigned percent = Percent;
  static constexpr std::size_t calls = Calls;
};

/// An option of cachet::circuit_breaker: probe calls let through at once while half-open.
template <std::size_t Probes>
struct half_open_probes : detail::option<detail::half_open_probes_kind> {
  static constexpr void check_values() {
    static_assert(Probes > 0,
                  "cachet::half_open_probes: with 0 probes the circuit could never close again; "
                  "allow at least 1, e.g. cachet::half_open_probes<1>");
  }
  static constexpr std::size_t value = Probes;
};

/// Policy: a circuit breaker on the cached function (see cachet::breaker). It wraps each call of
/// the function on a miss, so hits are served even while the circuit is open. After `Failures`
/// consecutive failures (or the failure_rate<> option's trigger) misses fail fast with
/// cachet::circuit_open for the cooldown (cooldown<Seconds>, default 30 s); then
/// half_open_probes<N> (default 1) probe calls test the function.
///
///     cachet::cached<&call_billing, cachet::ttl<60>,
///                    cachet::circuit_breaker<5, cachet::cooldown<30>>> bill;
///
/// `options::circuit_breaker_failures` / `circuit_breaker_cooldown` override the numbers;
/// `options::clock` is its time; `options::breaker` hands it a breaker to use instead of its own,
/// whose state and counters can then be watched (and shared by several functions).
template <std::size_t Failures, class... Options>
struct circuit_breaker : detail::policy<detail::circuit_breaker_kind> {
  static constexpr void check_values() {
    static_assert(Failures > 0,
                  "cachet::circuit_breaker: the failure threshold must be at least 1 consecutive "
                  "failure; leave the policy out to never open the circuit");
    static_cast<void>((detail::check_values<Options>() && ...));
  }
  static_assert((detail::is_option_of<Options, detail::cooldown_kind, detail::failure_rate_kind,
                                      detail::half_open_probes_kind> &&
                 ...),
                "cachet::circuit_breaker: its options are cachet::cooldown<Seconds>, "
                "cachet::failure_rate<Percent, Calls> and cachet::half_open_probes<N>; give other "
                "policies to cached<> directly");
  static_assert(detail::option_count<detail::cooldown_kind, Options...> <= 1 &&
                    detail::option_count<detail::failure_rate_kind, Options...> <= 1 &&
                    detail::option_count<detail::half_open_probes_kind, Options...> <= 1,
                "cachet::circuit_breaker: an option is given twice; keep one");

  using cooldown_option = detail::find_option_t<detail::cooldown_kind, cooldown<30>, Options...>;
  using probes_option =
      detail::find_option_t<detail::half_open_probes_kind, half_open_probes<1>, Options...>;
  static constexpr bool has_failure_rate =
      detail::option_count<detail::failure_rate_kind, Options...> == 1;

  /// The breaker's settings from the policy and `opts`.
  static breaker_settings settings(const options& opts) {
    breaker_settings s;
    s.consecutive_failures = opts.circuit_breaker_failures.value_or(Failures);
    s.cooldown = opts.circuit_breaker_cooldown
                     ? std::chrono::duration_cast<clock::duration>(*opts.circuit_breaker_cooldown)
                     : std::chrono::duration_cast<clock::duration>(cooldown_option::value);
    if constexpr (has_failure_rate) {
      using rate = detail::find_option_t<detail::failure_rate_kind, void, Options...>;
      s.failure_rate_percent = rate::percent;
      s.failure_rate_window = rate::calls;
    }
    s.half_open_probes = probes_option::value;
    s.clock = opts.clock;
    return s;
  }

  /// Wraps each call of the function on a miss.
  template <class Value>
  class load_stage {
   public:
    explicit load_stage(const options& opts)
        : own_(opts.breaker != nullptr ? nullptr : std::make_unique<breaker>(settings(opts))),
          breaker_(opts.breaker != nullptr ? opts.breaker : own_.get()) {}

    // The breaker only takes its lock briefly, so it may wrap a plain function's call inside a
    // coroutine (cached<>::async).
    static constexpr bool runs_in_coroutines = true;

    template <class Next, class... Args>
    Value operator()(std::string_view, Next&& next, const Args&...) {
      return breaker_->call(std::forward<Next>(next));
    }

    // Around retry's coroutine form, or a function that is itself a coroutine, it records the
    // awaited outcome.
    static constexpr bool has_async_form = true;

    template <class Backend, class Next, class... Args>
    std::invoke_result_t<Next&> async(std::string_view, Next next, const Args&...) {
      return breaker_->call_async(std::move(next));
    }

   private:
    std::unique_ptr<breaker> own_;
    breaker* breaker_;
  };
};

}  // namespace cachet

#endif
