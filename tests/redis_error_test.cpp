#include <cachet/error.hpp>
#include <cachet/redis/error.hpp>

#include <gtest/gtest.h>
#include <boost/system/error_code.hpp>

#include <set>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

namespace {

using cachet::resp3::error;

const std::vector<error> all_errors = {
    error::invalid_type_byte,    error::invalid_number,
    error::invalid_length,       error::expected_crlf,
    error::invalid_boolean,      error::invalid_double,
    error::bulk_too_large,       error::too_many_elements,
    error::nesting_too_deep,     error::unexpected_reply,
    error::resolve_timeout,      error::connect_timeout,
    error::handshake_timeout,    error::handshake_failed,
    error::not_connected,        error::connection_lost,
    error::outcome_unknown,      error::request_timeout,
    error::health_check_failed,  error::cancelled,
    error::server_error,         error::queue_full,
    error::invalid_url,          error::blocking_call_on_io_thread,
    error::tls_handshake_failed, error::sentinel_unavailable,
    error::not_master,           error::cluster_unavailable,
    error::too_many_redirects,
};

TEST(RedisError, ConvertsToStdErrorCode) {
  for (const error e : all_errors) {
    const std::error_code ec = e;  // implicit, through make_error_code found by ADL
    EXPECT_TRUE(ec) << "no value may mean success";
    EXPECT_EQ(ec, e);
    EXPECT_EQ(ec.category().name(), std::string("cachet.redis"));
    EXPECT_EQ(&ec.category(), &cachet::resp3::error_category());
    EXPECT_EQ(ec, make_error_code(e));
  }
  EXPECT_NE(std::error_code(error::cancelled), std::error_code(error::server_error));
  EXPECT_NE(std::error_code(error::cancelled), std::make_error_code(std::errc::operation_canceled));
}

TEST(RedisError, ConvertsToBoostErrorCode) {
  static_assert(boost::system::is_error_code_enum<error>::value);
  for (const error e : all_errors) {
    const boost::system::error_code ec = e;
    EXPECT_TRUE(ec.failed());
    EXPECT_EQ(ec.message(), std::error_code(e).message());
    EXPECT_EQ(ec, std::error_code(e));
    // Round trip back to std keeps the identity, so code from either side compares equal.
    const std::error_code back = ec;
    EXPECT_EQ(back, e);
  }
}

TEST(RedisError, EveryValueHasItsOwnMessage) {
  std::set<std::string> messages;
  for (const error e : all_errors) {
    const std::string message = std::error_code(e).message();
    EXPECT_FALSE(message.empty());
    EXPECT_EQ(message.find("unknown"), std::string::npos) << message;
    messages.insert(message);
  }
  EXPECT_EQ(messages.size(), all_errors.size());
  EXPECT_NE(cachet::resp3::error_category().message(0).find("unknown"), std::string::npos);
}

TEST(RedisError, ExceptionHierarchy) {
  static_assert(std::is_base_of_v<cachet::error, cachet::resp3::request_error>);
  static_assert(std::is_base_of_v<std::runtime_error, cachet::resp3::request_error>);
  static_assert(std::is_base_of_v<cachet::resp3::request_error, cachet::resp3::server_error>);
  static_assert(std::is_base_of_v<cachet::resp3::request_error, cachet::resp3::protocol_error>);
}

TEST(RedisError, RequestErrorKeepsCodeAndMessage) {
  const cachet::resp3::request_error e(error::request_timeout,
                                       "cachet::redis: request timed out after 250 ms");
  EXPECT_EQ(e.code(), error::request_timeout);
  EXPECT_STREQ(e.what(), "cachet::redis: request timed out after 250 ms");

  const cachet::resp3::request_error from_code(error::not_connected);
  EXPECT_EQ(from_code.code(), error::not_connected);
  EXPECT_EQ(std::string(from_code.what()),
            "cachet::redis: " + std::error_code(error::not_connected).message());
}

TEST(RedisError, ServerErrorKeepsTheServerTextVerbatim) {
  const std::string text = "WRONGTYPE Operation against a key holding the wrong kind of value";
  try {
    throw cachet::resp3::server_error(text);
  } catch (const cachet::error& e) {  // one catch for everything cachet throws
    const auto* server = dynamic_cast<const cachet::resp3::server_error*>(&e);
    ASSERT_NE(server, nullptr);
    EXPECT_EQ(server->server_message(), text);
    EXPECT_EQ(server->code(), error::server_error);
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos);
  }
  EXPECT_EQ(cachet::resp3::server_error("").server_message(), "");
  // A blob error may hold any byte; the message is not cut at a NUL.
  const std::string binary("ERR a\0b", 7);
  EXPECT_EQ(cachet::resp3::server_error(binary).server_message(), binary);
}

TEST(RedisError, ProtocolErrorCarriesTheParserCode) {
  const cachet::resp3::protocol_error e(error::nesting_too_deep);
  EXPECT_EQ(e.code(), error::nesting_too_deep);
  EXPECT_NE(std::string(e.what()).find("max_depth"), std::string::npos);
}

}  // namespace
