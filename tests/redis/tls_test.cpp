// TLS (rediss://) against redis-server processes with TLS ports, using certificates the test makes
// with the openssl command: a CA, a server and a client certificate it signed, and a CA that
// signed nothing of the server's.

#include <cachet/redis.hpp>

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "redis/degraded_test_support.hpp"
#include "support/redis_server.hpp"

namespace app {
std::atomic<int> tls_calls{0};
int tls_square(int x) {
  ++tls_calls;
  return x * x;
}
}  // namespace app

namespace {

using namespace std::chrono_literals;
using cachet_test::make_test_backend;
using cachet_test::private_redis_server;
using squares = cachet::cached<&app::tls_square, cachet::ttl<300>, cachet::backend<cachet::redis>>;

// The certificates of one test run, in a temporary directory removed at the end.
class certificates {
 public:
  certificates() {
    char pattern[] = "/tmp/cachet-tls-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    std::ofstream(dir_ / "server.ext") << "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
    std::ofstream(dir_ / "client.ext") << "extendedKeyUsage=clientAuth\n";
    make_ca("ca");
    make_ca("wrong-ca");
    make_signed("server", "localhost", "server.ext");
    make_signed("client", "cachet-client", "client.ext");
  }
  certificates(const certificates&) = delete;
  certificates& operator=(const certificates&) = delete;
  ~certificates() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string path(const std::string& file) const { return (dir_ / file).string(); }

 private:
  // EC keys: made in milliseconds, where RSA takes a noticeable part of a second.
  static constexpr const char* new_key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";

  void openssl(const std::string& args) const {
    const std::string command = "cd '" + dir_.string() + "' && openssl " + args + " 2>>openssl.log";
    if (std::system(command.c_str()) != 0) {
      throw std::runtime_error("openssl " + args + " failed; see " + path("openssl.log"));
    }
  }
  void make_ca(const std::string& name) const {
    openssl("req -x509 " + std::string(new_key) + " -keyout " + name + ".key -out " + name +
            ".crt -days 2 -subj /CN=" + name);
  }
  void make_signed(const std::string& name, const std::string& common_name,
                   const std::string& extensions) const {
    openssl("req " + std::string(new_key) + " -keyout " + name + ".key -out " + name +
            ".csr -subj /CN=" + common_name);
    openssl("x509 -req -in " + name + ".csr -CA ca.crt -CAkey ca.key -CAcreateserial -out " + name +
            ".crt -days 2 -extfile " + extensions);
  }

  std::filesystem::path dir_;
};

// A redis-server with a TLS port (and its plain port, which only tells the fixture it is up).
class tls_server {
 public:
  tls_server(const certificates& certs, bool require_client_certificate)
      : tls_port_(cachet_test::detail::free_loopback_port()),
        server_({"--tls-port", std::to_string(tls_port_), "--tls-cert-file",
                 certs.path("server.crt"), "--tls-key-file", certs.path("server.key"),
                 "--tls-ca-cert-file", certs.path("ca.crt"), "--tls-auth-clients",
                 require_client_certificate ? "yes" : "no"}) {}

  // rediss:// to the TLS port on `host`, with the query `options`.
  std::string url(const std::string& host, const std::string& options) const {
    return "rediss://" + host + ":" + std::to_string(tls_port_) + "?" + options;
  }

 private:
  unsigned short tls_port_;
  private_redis_server server_;
};

class RedisTls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { certs = new certificates(); }
  static void TearDownTestSuite() {
    delete certs;
    certs = nullptr;
  }
  static certificates* certs;
};
certificates* RedisTls::certs = nullptr;

// The second call of each argument is a hit: the entry went over TLS and came back.
void expect_hits(cachet::redis& cache) {
  squares square{cache};
  const int before = app::tls_calls;
  for (int x = 0; x < 5; ++x) EXPECT_EQ(square(x), x * x);
  for (int x = 0; x < 5; ++x) EXPECT_EQ(square(x), x * x);
  EXPECT_EQ(app::tls_calls - before, 5);
  EXPECT_EQ(square.stats().hits, 5u);
  EXPECT_EQ(square.stats().backend_errors, 0u);
}

TEST_F(RedisTls, TheRightCaVerifiesTheServerByNameAndByAddress) {
  tls_server server(*certs, false);
  for (const std::string host : {"localhost", "127.0.0.1"}) {
    SCOPED_TRACE(host);
    auto cache = make_test_backend(server.url(host, "ca=" + certs->path("ca.crt")));
    cache->verify();
    expect_hits(*cache);
  }
}

TEST_F(RedisTls, AWrongCaIsATypedErrorWithOpensslsReasonAndCallsStillAnswer) {
  tls_server server(*certs, false);
  auto cache = make_test_backend(server.url("localhost", "ca=" + certs->path("wrong-ca.crt")));
  try {
    cache->verify();
    FAIL() << "a server certificate from another CA was accepted";
  } catch (const cachet::redis::request_error& e) {
    EXPECT_EQ(e.code(), cachet::redis::error::tls_handshake_failed);
    const std::string what = e.what();
    EXPECT_NE(what.find("certificate verify failed"), std::string::npos) << what;
    EXPECT_NE(what.find("check config.tls"), std::string::npos) << what;
  }
  EXPECT_NE(cache->last_error().find("certificate verify failed"), std::string::npos)
      << cache->last_error();

  squares square{*cache};
  const int before = app::tls_calls;
  EXPECT_EQ(square(7), 49);
  EXPECT_EQ(square(7), 49);
  EXPECT_EQ(app::tls_calls - before, 2);  // no cache, but answers
  EXPECT_EQ(square.stats().hits, 0u);
  // Each call's read failed or was skipped; nothing read, so nothing written.
  EXPECT_EQ(square.stats().backend_errors + square.stats().backend_skipped, 2u);
}

TEST_F(RedisTls, ANameTheCertificateDoesNotHoldIsRefused) {
  tls_server server(*certs, false);
  auto cache =
      make_test_backend(server.url("localhost", "ca=" + certs->path("ca.crt") + "&sni=other.host"));
  try {
    cache->verify();
    FAIL() << "a certificate for localhost was accepted for other.host";
  } catch (const cachet::redis::request_error& e) {
    EXPECT_EQ(e.code(), cachet::redis::error::tls_handshake_failed);
    EXPECT_NE(std::string(e.what()).find("certificate verify failed"), std::string::npos)
        << e.what();
  }
}

TEST_F(RedisTls, VerificationCanBeTurnedOff) {
  tls_server server(*certs, false);
  auto cache = make_test_backend(server.url("127.0.0.1", "verify=no"));
  expect_hits(*cache);
}

TEST_F(RedisTls, AServerThatRequiresAClientCertificateRefusesCallsWithoutOne) {
  tls_server server(*certs, true);
  auto without = make_test_backend(server.url("localhost", "ca=" + certs->path("ca.crt")));
  try {
    without->verify();
    FAIL() << "the server accepted a client without a certificate";
  } catch (const cachet::redis::request_error& e) {
    EXPECT_EQ(e.code(), cachet::redis::error::tls_handshake_failed) << e.what();
    EXPECT_NE(std::string(e.what()).find("certificate"), std::string::npos) << e.what();
  }
  squares square{*without};
  EXPECT_EQ(square(3), 9);

  auto with = make_test_backend(server.url("localhost", "ca=" + certs->path("ca.crt") +
                                                            "&cert=" + certs->path("client.crt") +
                                                            "&key=" + certs->path("client.key")));
  with->verify();
  expect_hits(*with);
}

TEST_F(RedisTls, AnUnreadableFileIsRefusedWhenTheBackendIsMade) {
  auto cfg = cachet::redis::config::from_url("rediss://localhost:1?ca=/nonexistent/ca.pem");
  try {
    cachet::redis cache{cfg};
    FAIL() << "a missing CA file was accepted";
  } catch (const cachet::error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(
                  "cachet::redis::config: tls.ca_file \"/nonexistent/ca.pem\" cannot be used", 0),
              0u)
        << e.what();
  }
}

}  // namespace
