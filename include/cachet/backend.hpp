#ifndef CACHET_BACKEND_HPP
#define CACHET_BACKEND_HPP

#include <cachet/detail/policy.hpp>

namespace cachet {
namespace detail {
struct backend_kind {};
}  // namespace detail

/// Where results are stored: `backend<cachet::memory>` (the default, in-process) or
/// `backend<cachet::redis>` (from <cachet/redis.hpp>). Without an explicit backend object in the
/// constructor, a `cached` uses the backend's process-wide instance, `B::shared()`.
template <class B>
struct backend : detail::policy<detail::backend_kind> {
  using type = B;
};

}  // namespace cachet

#endif
