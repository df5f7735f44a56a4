#ifndef CACHET_OPTIONS_HPP
#define CACHET_OPTIONS_HPP

#include <chrono>
#include <cstddef>
#include <optional>

namespace cachet {

/// Run-time values that override the defaults given as policies, for services that read them
/// from configuration. An empty field keeps the policy's value.
///
///     cachet::cached<&load_user, cachet::ttl<300>> get_user{cachet::options{.ttl = config_ttl}};
struct options {
  // Every field has an initializer, so `options{.ttl = t}` compiles cleanly under g++'s
  // -Wmissing-field-initializers.
  std::optional<std::chrono::milliseconds> ttl = std::nullopt;  ///< 0 = never expires
  std::optional<std::size_t> capacity = std::nullopt;           ///< entries; 0 = unbounded
};

}  // namespace cachet

#endif
