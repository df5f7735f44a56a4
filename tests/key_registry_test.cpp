// One key template belongs to one function per backend object (issue #9, point 4), on the
// in-memory backend; tests/redis/key_registry_test.cpp holds the Redis twin.

#include <cachet.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/construction_error.hpp"

namespace shop {
int usd(int id) { return id; }
int eur(int id) { return id * 10; }
}  // namespace shop

namespace {

using usd_price = cachet::cached<&shop::usd, cachet::key<"price:{}">>;
using eur_price = cachet::cached<&shop::eur, cachet::key<"price:{}">>;

using cachet_test::construction_error;

TEST(KeyRegistry, ADifferentFunctionWithTheSameTemplateIsRefusedNamingBoth) {
  cachet::memory backend;
  usd_price usd{backend};
  const std::string what = construction_error([&] { eur_price eur{backend}; });
  EXPECT_NE(what.find("cachet::key:"), std::string::npos) << what;
  EXPECT_NE(what.find("\"price:{}\""), std::string::npos) << what;
  EXPECT_NE(what.find("shop::usd"), std::string::npos) << what;
  EXPECT_NE(what.find("shop::eur"), std::string::npos) << what;
  EXPECT_NE(what.find("different key template"), std::string::npos) << what;
  EXPECT_EQ(usd(5), 5);  // the first object is unaffected
}

TEST(KeyRegistry, ObjectsOfOneFunctionShareItsTemplate) {
  cachet::memory backend;
  usd_price first{backend};
  cachet::cached<&shop::usd, cachet::key<"price:{}">, cachet::ttl<60>> longer{backend};
  EXPECT_EQ(first(3), 3);
  EXPECT_EQ(longer(3), 3);
  EXPECT_NE(construction_error([&] { eur_price eur{backend}; }), "");
}

TEST(KeyRegistry, TheTemplateIsFreedWhenItsLastObjectIsDestroyed) {
  cachet::memory backend;
  auto first = std::make_unique<usd_price>(backend);
  auto second = std::make_unique<usd_price>(backend);
  first.reset();
  EXPECT_NE(construction_error([&] { eur_price eur{backend}; }), "");
  second.reset();
  eur_price eur{backend};
  EXPECT_EQ(eur(5), 50);
}

TEST(KeyRegistry, EachBackendObjectHasItsOwnTemplates) {
  cachet::memory one;
  cachet::memory other;
  usd_price usd{one};
  eur_price eur{other};
  EXPECT_EQ(usd(5), 5);
  EXPECT_EQ(eur(5), 50);
}

TEST(KeyRegistry, DefaultKeysAndDifferentTemplatesNeverClash) {
  cachet::memory backend;
  cachet::cached<&shop::usd> usd{backend};
  cachet::cached<&shop::eur> eur{backend};
  cachet::cached<&shop::usd, cachet::key<"usd:{}">> usd_keyed{backend};
  cachet::cached<&shop::eur, cachet::key<"eur:{}">> eur_keyed{backend};
  EXPECT_EQ(usd(1) + eur(1) + usd_keyed(1) + eur_keyed(1), 22);
}

TEST(KeyRegistry, FunctionObjectsAreToldApartByType) {
  cachet::memory backend;
  auto square = [](int x) { return x * x; };
  auto cube = [](int x) { return x * x * x; };
  auto first = cachet::make_cached<cachet::key<"n:{}">>(square, backend);
  auto again = cachet::make_cached<cachet::key<"n:{}">>(square, backend);
  EXPECT_EQ(first(3) + again(3), 18);
  const std::string what =
      construction_error([&] { auto c = cachet::make_cached<cachet::key<"n:{}">>(cube, backend); });
  EXPECT_NE(what.find("\"n:{}\""), std::string::npos) << what;
  EXPECT_NE(what.find("lambda"), std::string::npos) << what;
}

TEST(KeyRegistry, TheSharedBackendChecksToo) {
  usd_price usd;
  EXPECT_NE(construction_error([] { eur_price eur; }), "");
}

TEST(KeyRegistry, ConcurrentObjectsOfOneFunctionAllRegisterAndAllLeave) {
  cachet::memory backend;
  constexpr int threads = 4;
  constexpr int rounds = 500;
  std::atomic<int> refused{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (int i = 0; i < rounds; ++i) {
        try {
          usd_price usd{backend};
        } catch (const cachet::error&) {
          refused.fetch_add(1);
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_EQ(refused.load(), 0);
  // Every registration ended with its object: another function may take the template now.
  eur_price eur{backend};
  EXPECT_EQ(eur(2), 20);
}

}  // namespace
