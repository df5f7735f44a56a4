// expect: cachet::cached: a policy's load stage has no coroutine form, so it cannot wrap a function
#include <cachet.hpp>
#include <cachet/detail/policy.hpp>
#include <cachet/redis.hpp>

#include <boost/asio/awaitable.hpp>

#include <string>
#include <string_view>
#include <type_traits>

boost::asio::awaitable<std::string> name_of(int id) { co_return std::to_string(id); }

// A policy of its own whose load stage only wraps plain calls: around a coroutine function it
// would see the awaitable, never the failures of running it.
struct audit_kind {};
struct audit : cachet::detail::policy<audit_kind> {
  template <class Value>
  struct load_stage {
    explicit load_stage(const cachet::options&) {}
    static constexpr bool runs_in_coroutines = true;
    template <class Next, class... Args>
    Value operator()(std::string_view, Next&& next, const Args&...) {
      return next();
    }
#ifdef CACHET_PASSING_TWIN
    // The corrected stage: its coroutine form awaits the function.
    static constexpr bool has_async_form = true;
    template <class Backend, class Next, class... Args>
    std::invoke_result_t<Next&> async(std::string_view, Next next, const Args&...) {
      co_return co_await next();
    }
#endif
  };
};

cachet::cached<&name_of, cachet::key<"name:{}">, cachet::backend<cachet::redis>, audit> names;

boost::asio::awaitable<std::string> use() { co_return co_await names.async(1); }

int main() { return names(1).empty() ? 1 : 0; }
