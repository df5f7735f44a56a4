#ifndef CACHET_EVENT_HPP
#define CACHET_EVENT_HPP

#include <chrono>
#include <exception>
#include <string_view>

namespace cachet {

/// What a cachet::observer is told about one thing that happened to a cached function. The views
/// are valid only during the call of the observer's member: copy what you keep.
///
///     struct log_loads {
///       void on_load(const cachet::event& e) {
///         std::clog << e.cache << ' ' << e.key << ' ' << e.duration.count() << "ns\n";
///       }
///     };
struct event {
  /// The cache's name: its name<> policy, else its key template, else its function's name
  /// (see cachet::name).
  std::string_view cache;
  /// The text key of the call (as cached<>::key() renders it); for on_invalidation after
  /// invalidate_tag, the tag; empty for on_eviction (the store chose which entry went) and after
  /// clear().
  std::string_view key;
  /// How long the function ran, for on_load and on_load_error; zero otherwise.
  std::chrono::nanoseconds duration{0};
  /// The exception the call failed with: for on_load_error, on_rate_limited and on_circuit_open.
  std::exception_ptr error = nullptr;
};

}  // namespace cachet

#endif
