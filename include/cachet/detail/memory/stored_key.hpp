#ifndef CACHET_DETAIL_MEMORY_STORED_KEY_HPP
#define CACHET_DETAIL_MEMORY_STORED_KEY_HPP

#include <cachet/detail/hash.hpp>
#include <cachet/detail/inline.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string_view>

namespace cachet::detail {

// An in-memory store's copy of a key, in 12 bytes: up to 11 bytes inline (the binary key of any
// number, or of two ints), longer ones on the heap. Against std::string's 32 bytes this is what
// lets an entry of a long key and a long value fit 32 bytes. Move-only: entries never copy keys.
class stored_key {
 public:
  static constexpr std::size_t inline_capacity = 11;

  explicit stored_key(std::string_view text) {
    if (text.size() <= inline_capacity) {
      size_ = static_cast<std::uint8_t>(text.size());
      if (!text.empty()) std::memcpy(bytes_, text.data(), text.size());
      return;
    }
    // A heap key is its length followed by its bytes.
    char* block = static_cast<char*>(::operator new(sizeof(std::size_t) + text.size()));
    const std::size_t length = text.size();
    std::memcpy(block, &length, sizeof length);
    std::memcpy(block + sizeof length, text.data(), text.size());
    std::memcpy(bytes_, &block, sizeof block);
    size_ = on_heap;
  }

  stored_key(stored_key&& other) noexcept : size_(other.size_) {
    std::memcpy(bytes_, other.bytes_, sizeof bytes_);
    other.size_ = 0;
  }

  stored_key& operator=(stored_key&& other) noexcept {
    if (this != &other) {
      release();
      std::memcpy(bytes_, other.bytes_, sizeof bytes_);
      size_ = other.size_;
      other.size_ = 0;
    }
    return *this;
  }

  stored_key(const stored_key&) = delete;
  stored_key& operator=(const stored_key&) = delete;

  ~stored_key() { release(); }

  std::string_view view() const noexcept {
    if (size_ != on_heap) return {bytes_, size_};
    const char* block = heap_block();
    std::size_t length;
    std::memcpy(&length, block, sizeof length);
    return {block + sizeof length, length};
  }

  CACHET_ALWAYS_INLINE bool equals(std::string_view text) const noexcept {
    if (size_ != on_heap) return size_ == text.size() && same_bytes({bytes_, size_}, text);
    return same_bytes(view(), text);
  }

 private:
  static constexpr std::uint8_t on_heap = 0xff;

  char* heap_block() const noexcept {
    char* block;
    std::memcpy(&block, bytes_, sizeof block);
    return block;
  }

  void release() noexcept {
    if (size_ == on_heap) ::operator delete(heap_block());
  }

  char bytes_[inline_capacity];
  std::uint8_t size_;
};

static_assert(sizeof(stored_key) == 12);

}  // namespace cachet::detail

#endif
