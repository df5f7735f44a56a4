// libFuzzer target for the RESP3 parser. Build and run (from the repository root):
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I include
//       tests/fuzz/resp3_fuzz.cpp -o resp3_fuzz
//   ./resp3_fuzz -max_total_time=120 tests/fuzz/corpus_resp3_fuzz
// The first input byte picks the limits and the chunking; the rest is the byte stream.
#include <cachet/detail/redis/parser.hpp>
#include <cachet/redis/error.hpp>
#include <cachet/redis/resp3.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace {

using cachet::resp3::type;
using cachet::resp3::value;
using cachet::resp3::detail::parse_limits;
using cachet::resp3::detail::parser;

// Reports the broken invariant before aborting, so a crash explains itself.
void check_at(bool condition, const char* what, int line) {
  if (!condition) {
    std::fprintf(stderr, "resp3_fuzz.cpp:%d: invariant broken: %s\n", line, what);
    std::abort();
  }
}
#define CHECK(condition) check_at((condition), #condition, __LINE__)

// Structural equality where nan equals nan (the same bytes give the same value).
bool same(const value& a, const value& b) {
  if (a.type != b.type || a.text != b.text || a.verbatim_format != b.verbatim_format ||
      a.integer != b.integer || a.boolean != b.boolean || a.elements.size() != b.elements.size() ||
      a.attributes.size() != b.attributes.size()) {
    return false;
  }
  if (!(a.real == b.real || (std::isnan(a.real) && std::isnan(b.real)))) return false;
  for (std::size_t i = 0; i < a.elements.size(); ++i) {
    if (!same(a.elements[i], b.elements[i])) return false;
  }
  for (std::size_t i = 0; i < a.attributes.size(); ++i) {
    if (!same(a.attributes[i], b.attributes[i])) return false;
  }
  return true;
}

// A parsed value respects the limits it was parsed under.
void check_value(const value& v, const parse_limits& limits, std::size_t depth) {
  CHECK(v.type != type::attribute);
  CHECK(v.text.size() <= limits.max_bulk_length);
  CHECK(v.elements.size() <= limits.max_elements);
  if (v.type == type::map) CHECK(v.elements.size() % 2 == 0);
  CHECK(v.attributes.size() % 2 == 0);
  if (v.type == type::verbatim_string) CHECK(v.verbatim_format.size() == 3);
  const bool aggregate =
      v.type == type::array || v.type == type::map || v.type == type::set || v.type == type::push;
  CHECK(aggregate || v.elements.empty());
  if (aggregate) CHECK(depth < limits.max_depth);
  for (const value& e : v.elements) check_value(e, limits, depth + (aggregate ? 1 : 0));
  for (const value& a : v.attributes) check_value(a, limits, depth + 1);
}

struct run {
  std::vector<value> replies;
  std::error_code ec;
};

// Feeds `input` in chunks like the client: one buffer, parse, drop what was consumed.
run parse_in_chunks(std::string_view input, const parse_limits& limits, std::uint8_t seed,
                    bool whole) {
  run result;
  parser p(limits);
  std::string buffer;
  std::size_t fed = 0;
  std::size_t reply_bytes = 0;  // consumed since the last reply
  while (fed < input.size()) {
    std::size_t chunk = input.size() - fed;
    if (!whole) {
      // Chunk sizes from 1 to 32 bytes, taken from the data so the fuzzer controls them.
      chunk =
          std::min(chunk, std::size_t{1} + ((static_cast<std::uint8_t>(input[fed]) ^ seed) % 32));
    }
    buffer.append(input.substr(fed, chunk));
    fed += chunk;
    while (!buffer.empty()) {
      std::optional<value> reply;
      const std::size_t used = p.parse(buffer, reply, result.ec);
      CHECK(used <= buffer.size());
      if (result.ec) {
        CHECK(!reply.has_value());
        CHECK(&result.ec.category() == &cachet::resp3::error_category());
        CHECK(result.ec.value() >= static_cast<int>(cachet::resp3::error::invalid_type_byte) &&
              result.ec.value() <= static_cast<int>(cachet::resp3::error::nesting_too_deep));
        // After an error the parser takes nothing more and repeats the error.
        std::error_code again;
        CHECK(p.parse(buffer.substr(used), reply, again) == 0);
        CHECK(again == result.ec && !reply.has_value());
        return result;
      }
      buffer.erase(0, used);
      reply_bytes += used;
      if (!reply) {
        CHECK(used > 0 && buffer.empty());  // progress: a partial reply is taken whole
        break;
      }
      CHECK(reply_bytes >= 3);  // the shortest reply is "_\r\n"
      reply_bytes = 0;
      check_value(*reply, limits, 0);
      result.replies.push_back(std::move(*reply));
    }
  }
  return result;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t control = data[0];
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  parse_limits limits;
  if (control & 1) {
    // Small limits so that every limit is reachable by short inputs.
    limits.max_bulk_length = 16;
    limits.max_elements = 6;
    limits.max_depth = 3;
  }
  const run chunked = parse_in_chunks(input, limits, control, false);
  const run whole = parse_in_chunks(input, limits, control, true);
  // Splitting the input never changes the outcome.
  CHECK(chunked.ec == whole.ec);
  CHECK(chunked.replies.size() == whole.replies.size());
  for (std::size_t i = 0; i < chunked.replies.size(); ++i) {
    CHECK(same(chunked.replies[i], whole.replies[i]));
  }
  return 0;
}
