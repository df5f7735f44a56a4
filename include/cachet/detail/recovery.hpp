#ifndef CACHET_DETAIL_RECOVERY_HPP
#define CACHET_DETAIL_RECOVERY_HPP

// What may still answer a call that failed: a fresh stored value when a rate_limit with
// serve_cached refused it, then a stale one with fail_safe. The decision is made here once, for
// the blocking and the coroutine paths; each only fetches the values in the order given.

#include <cachet/rate_limited.hpp>

#include <array>
#include <cstddef>
#include <exception>

namespace cachet::detail {

// A policy that answers a rate-limited call with the cached result when there is one
// (rate_limit<..., serve_cached>).
template <class P>
inline constexpr bool serves_cached_when_limited = requires {
  requires P::serves_cached;
};

inline bool is_rate_limited(const std::exception_ptr& failure) {
  try {
    std::rethrow_exception(failure);
  } catch (const rate_limited&) {
    return true;
  } catch (...) {
    return false;
  }
}

// A stored value that may answer a failed call.
enum class stored_answer : unsigned char { fresh, stale };

// The stored values to try for a call that failed with `failure`, in order: a range of
// stored_answer.
class recovery_plan {
 public:
  recovery_plan(const std::exception_ptr& failure, bool serves_cached, bool fail_safe) {
    if (serves_cached && is_rate_limited(failure)) answers_[count_++] = stored_answer::fresh;
    if (fail_safe) answers_[count_++] = stored_answer::stale;
  }
  const stored_answer* begin() const noexcept { return answers_.data(); }
  const stored_answer* end() const noexcept { return answers_.data() + count_; }

 private:
  std::array<stored_answer, 2> answers_{};
  std::size_t count_ = 0;
};

}  // namespace cachet::detail

#endif
