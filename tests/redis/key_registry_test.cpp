// One key template belongs to one function per Redis backend object (issue #9, point 4): before,
// two functions with key<"price:{}"> answered with each other's values.

#include <cachet/redis.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "redis/degraded_test_support.hpp"
#include "support/construction_error.hpp"
#include "support/redis_server.hpp"

namespace shop {
int usd(int id) { return id; }
int eur(int id) { return id * 10; }
}  // namespace shop

namespace {

using usd_price =
    cachet::cached<&shop::usd, cachet::key<"price:{}">, cachet::backend<cachet::redis>>;
using eur_price =
    cachet::cached<&shop::eur, cachet::key<"price:{}">, cachet::backend<cachet::redis>>;

using cachet_test::construction_error;

TEST(RedisKeyRegistry, ADifferentFunctionWithTheSameTemplateIsRefusedNamingBoth) {
  auto backend = cachet_test::make_test_backend(cachet_test::shared_redis_url());
  usd_price usd{*backend};
  EXPECT_EQ(usd(5), 5);
  const std::string what = construction_error([&] { eur_price eur{*backend}; });
  EXPECT_NE(what.find("\"price:{}\""), std::string::npos) << what;
  EXPECT_NE(what.find("shop::usd"), std::string::npos) << what;
  EXPECT_NE(what.find("shop::eur"), std::string::npos) << what;
  EXPECT_NE(what.find("different key template"), std::string::npos) << what;
  EXPECT_EQ(usd(5), 5);
  EXPECT_EQ(usd.stats().hits, 1u);
}

TEST(RedisKeyRegistry, ObjectsOfOneFunctionShareItsTemplateUntilTheLastIsGone) {
  auto backend = cachet_test::make_test_backend(cachet_test::shared_redis_url());
  auto first = std::make_unique<usd_price>(*backend);
  auto longer =
      std::make_unique<cachet::cached<&shop::usd, cachet::key<"price:{}">, cachet::ttl<60>,
                                      cachet::backend<cachet::redis>>>(*backend);
  EXPECT_EQ((*first)(7), 7);
  EXPECT_EQ((*longer)(7), 7);
  first.reset();
  EXPECT_NE(construction_error([&] { eur_price eur{*backend}; }), "");
  longer.reset();
  eur_price eur{*backend};
  EXPECT_EQ(eur(8), 80);
}

TEST(RedisKeyRegistry, FunctionObjectsWithTheSameTemplateAreRefused) {
  auto backend = cachet_test::make_test_backend(cachet_test::shared_redis_url());
  auto square = [](int x) { return x * x; };
  auto cube = [](int x) { return x * x * x; };
  auto first =
      cachet::make_cached<cachet::key<"n:{}">, cachet::backend<cachet::redis>>(square, *backend);
  EXPECT_EQ(first(3), 9);
  EXPECT_NE(construction_error([&] {
              auto c = cachet::make_cached<cachet::key<"n:{}">, cachet::backend<cachet::redis>>(
                  cube, *backend);
            }),
            "");
}

TEST(RedisKeyRegistry, EachBackendObjectHasItsOwnTemplates) {
  const std::string url = cachet_test::shared_redis_url();
  auto one = cachet_test::make_test_backend(url);
  auto other = cachet_test::make_test_backend(url);
  usd_price usd{*one};
  eur_price eur{*other};
  EXPECT_EQ(usd(5), 5);
  EXPECT_EQ(eur(5), 50);
}

}  // namespace
