// expect: cachet::cached::async and async_many: a policy.s stage may block its thread
#include <cachet.hpp>
#include <cachet/detail/policy.hpp>
#include <cachet/redis.hpp>

#include <boost/asio/awaitable.hpp>

#include <string>
#include <string_view>
#include <vector>

std::string name_of(int id) { return std::to_string(id); }

// A policy of its own whose load stage does not say it may run in a coroutine: a batch wraps each
// miss's call with it inside the coroutine, as async() does.
struct audit_kind {};
struct audit : cachet::detail::policy<audit_kind> {
  template <class Value>
  struct load_stage {
    explicit load_stage(const cachet::options&) {}
    template <class Next, class... Args>
    Value operator()(std::string_view, Next&& next, const Args&...) {
      return next();
    }
#ifdef CACHET_PASSING_TWIN
    // The corrected stage: it does not block, and says so.
    static constexpr bool runs_in_coroutines = true;
#endif
  };
};

cachet::cached<&name_of, cachet::key<"name:{}">, cachet::backend<cachet::redis>, audit> names;

boost::asio::awaitable<std::vector<std::string>> use() {
  const std::vector ids{1, 2};
  co_return co_await names.async_many(ids);
}

int main() { return 0; }
