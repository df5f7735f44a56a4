#ifndef CACHET_HEALTH_HPP
#define CACHET_HEALTH_HPP

#include <cachet/detail/resilience/breaker_machine.hpp>

#include <chrono>
#include <cstddef>
#include <string>

namespace cachet {

/// What a backend's health() reports, for readiness probes and dashboards.
///
///     cachet::health h = cache.health();   // cachet::redis: one PING, at most request_timeout
///     if (!h.ready()) return http_503(h.last_error);
struct health {
  /// Whether the backend answered: the in-memory backend always does; cachet::redis when its PING
  /// was answered.
  bool connected = true;
  /// The backend's circuit breaker: open while cached calls skip an unreachable server.
  circuit_state breaker = circuit_state::closed;
  /// Why the connection last failed, with the server's own text when it refused us
  /// ("WRONGPASS ..."); empty while connected.
  std::string last_error;
  /// Invalidations that failed and wait for a replay (cachet::redis::pending_invalidations()).
  std::size_t pending_invalidations = 0;
  /// How long the PING took; zero for the in-memory backend and when it was not answered.
  std::chrono::nanoseconds round_trip{0};

  /// Connected, breaker closed and nothing pending: cached calls use the backend normally.
  bool ready() const noexcept {
    return connected && breaker == circuit_state::closed && pending_invalidations == 0;
  }
};

}  // namespace cachet

#endif
