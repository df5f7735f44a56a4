#ifndef CACHET_DETAIL_KEY_REGISTRY_HPP
#define CACHET_DETAIL_KEY_REGISTRY_HPP

#include <cachet/error.hpp>

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace cachet::detail {

// The compiler's spelling of T, for messages about function objects, which have no name.
template <class T>
constexpr std::string_view spelled_type_name() {
  std::string_view s = __PRETTY_FUNCTION__;
  // g++: "[with T = X; std::string_view = ...]", clang: "[T = X]".
  s.remove_prefix(s.rfind("T = ") + 4);
  const std::size_t end = s.find("; ");
  return s.substr(0, end == std::string_view::npos ? s.size() - 1 : end);
}

// One address per type: tells function objects apart, whose spelled names may coincide.
template <class T>
inline constexpr char type_tag = 0;

// Which function a cached object caches. Named functions compare by name, so that every shared
// library of a program agrees; function objects by type.
struct function_identity {
  std::string_view name;           // the qualified name, or a function object's type
  const void* type_tag = nullptr;  // null for named functions

  friend bool operator==(const function_identity& a, const function_identity& b) {
    return a.type_tag == b.type_tag && a.name == b.name;
  }
};

template <class Function>
constexpr function_identity identity_of() {
  if constexpr (!Function::name().empty()) {
    return {Function::name(), nullptr};
  } else {
    return {spelled_type_name<Function>(), &type_tag<Function>};
  }
}

// The key templates in use on one backend object, and the function each belongs to: two
// different functions rendering keys from one template would read each other's results. Objects
// of one function may share a template (two instances, different ttls). Thread-safe. Held by
// shared_ptr: a registration keeps it alive, so a cached object destroyed after its backend
// (which the backend's contract forbids, but a test or a shutdown may do) touches no freed memory.
//
// A template only so that its map's code is instantiated by the units that cache a function
// with a cachet::key<>, not by every unit that includes a backend.
template <class Unused = void>
class basic_key_registry : public std::enable_shared_from_this<basic_key_registry<Unused>> {
 public:
  // Holds a template for one cached object until it is destroyed; empty when it holds nothing.
  class registration {
   public:
    registration() = default;
    registration(const registration&) = delete;
    registration& operator=(const registration&) = delete;
    ~registration() {
      if (registry_ != nullptr) registry_->leave(key_template_);
    }

   private:
    friend class basic_key_registry;
    registration(std::shared_ptr<basic_key_registry> registry, std::string_view key_template)
        : registry_(std::move(registry)), key_template_(key_template) {}

    std::shared_ptr<basic_key_registry> registry_;
    std::string key_template_;
  };

  basic_key_registry() = default;
  basic_key_registry(const basic_key_registry&) = delete;
  basic_key_registry& operator=(const basic_key_registry&) = delete;

  // Records that `function` renders its keys from `key_template`.
  // \throws cachet::error when another function already does, naming both.
  registration enter(std::string_view key_template, function_identity function) {
    std::lock_guard lock(mutex_);
    auto [it, inserted] = owners_.try_emplace(std::string(key_template), owner{function, 0});
    if (!inserted && !(it->second.function == function)) {
      throw cachet::error("cachet::key: the key template \"" + std::string(key_template) +
                          "\" is already used by " + std::string(it->second.function.name) +
                          " on this backend, so " + std::string(function.name) +
                          " would read its results; give one of them a different key template");
    }
    ++it->second.objects;
    return registration(this->shared_from_this(), key_template);
  }

 private:
  struct owner {
    function_identity function;
    std::size_t objects = 0;
  };

  void leave(const std::string& key_template) noexcept {
    std::lock_guard lock(mutex_);
    auto it = owners_.find(key_template);
    if (it != owners_.end() && --it->second.objects == 0) owners_.erase(it);
  }

  mutable std::mutex mutex_;
  std::map<std::string, owner, std::less<>> owners_;
};

using key_registry = basic_key_registry<>;

}  // namespace cachet::detail

#endif
