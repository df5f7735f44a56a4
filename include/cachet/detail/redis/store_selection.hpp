#ifndef CACHET_DETAIL_REDIS_STORE_SELECTION_HPP
#define CACHET_DETAIL_REDIS_STORE_SELECTION_HPP

// Which store a cached<> uses, given its backend and its codec<> policy (if any). Kept free of
// Boost.JSON and Asio so that cached.hpp can include it without pulling the Redis backend in.

#include <cachet/detail/policy.hpp>

#include <cstddef>

namespace cachet::detail {

/// The family of cachet::codec.
struct codec_kind {};

/// What cached<> finds when the pack has no codec<>: the backend's default.
struct no_codec {
  using type = void;
};

// A backend that serialises values declares `static constexpr bool serializes_values = true` and
// takes the codec as the store's third argument.
template <class Backend>
concept serializing_backend = Backend::serializes_values;

template <class Backend, class Value, std::size_t TagCount, class Codec>
struct store_for {
  static_assert(serializing_backend<Backend>,
                "cachet::codec: this backend keeps values in process and never serialises them; "
                "remove codec<>, or use a backend that stores bytes, such as "
                "cachet::backend<cachet::redis>");
  using type = typename Backend::template store<Value, TagCount, Codec>;
};

template <class Backend, class Value, std::size_t TagCount>
struct store_for<Backend, Value, TagCount, void> {
  using type = typename Backend::template store<Value, TagCount>;
};

}  // namespace cachet::detail

#endif
