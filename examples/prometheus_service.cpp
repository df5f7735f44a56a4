// A service that exposes its caches' metrics on /metrics with prometheus-cpp's Exposer, and logs
// slow loads through an observer.
//
//     prometheus_service                      prints what a scrape would return, and exits
//     prometheus_service --serve 0.0.0.0:9464 serves /metrics until its standard input closes
//
// Build: link cachet::prometheus and prometheus-cpp::pull.
#include <cachet.hpp>
#include <cachet/prometheus.hpp>

#include <prometheus/exposer.h>
#include <prometheus/text_serializer.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>

struct user {
  int id;
  std::string name;
};

user load_user(int id) {
  if (id < 0) throw std::invalid_argument("no such user");
  return {id, "user-" + std::to_string(id)};
}

// Called on every load, on the thread that loaded.
struct slow_load_log {
  std::chrono::milliseconds threshold{100};
  void on_load(const cachet::event& e) {
    if (e.duration > threshold) std::clog << "slow load: " << e.cache << ' ' << e.key << '\n';
  }
};

cachet::cached<&load_user, cachet::ttl<300>, cachet::key<"user:{}">, cachet::name<"users">,
               cachet::observer<slow_load_log>>
    get_user;

int main(int argc, char** argv) {
  get_user(1);
  get_user(1);
  get_user(2);
  try {
    get_user(-1);
  } catch (const std::invalid_argument&) {
  }

  auto metrics = std::make_shared<cachet::prometheus_collector>();
  if (argc == 3 && std::string(argv[1]) == "--serve") {
    prometheus::Exposer exposer{argv[2]};
    exposer.RegisterCollectable(metrics);
    // Port 0 asks for any free port: say which one, for whoever started us.
    std::cout << "listening on port " << exposer.GetListeningPorts().at(0) << std::endl;
    for (std::string line; std::getline(std::cin, line);) {
    }
    return 0;
  }
  std::cout << prometheus::TextSerializer{}.Serialize(metrics->Collect());
  std::cout << "users cache: " << (get_user.backend().health().ready() ? "ready" : "not ready")
            << '\n';
}
