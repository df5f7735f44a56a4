#ifndef CACHET_DETAIL_REDIS_IMPL_INVALIDATION_BACKLOG_IPP
#define CACHET_DETAIL_REDIS_IMPL_INVALIDATION_BACKLOG_IPP

// Bodies of <cachet/detail/redis/invalidation_backlog.hpp>; see <cachet/detail/linkage.hpp>.

#include <cachet/detail/redis/invalidation_backlog.hpp>

namespace cachet::detail {

CACHET_DECL void invalidation_backlog::add_delete(std::string key,
                                                  const std::string& function_key) {
  if (auto covering = bumps_.find(function_key); covering != bumps_.end()) {
    // The bump covers the entry, but a replay under way may have sent it before this
    // invalidation: renumbered, it is sent again.
    covering->second = next_++;
    return;
  }
  if (auto same = deletes_.find(key); same != deletes_.end()) {
    same->second.sequence = next_++;
    return;
  }
  if (deletes_.size() >= max_deletes_) {
    add_bump(function_key);
    return;
  }
  deletes_.try_emplace(std::move(key), delete_record{function_key, next_++});
}

CACHET_DECL void invalidation_backlog::add_bump(const std::string& key) {
  bumps_.insert_or_assign(key, next_++);
  // Linear, but rare: a failed clear(), or the first DEL past the bound for a function.
  boost::unordered::erase_if(deletes_,
                             [&](const auto& item) { return item.second.function_key == key; });
}

CACHET_DECL void invalidation_backlog::applied(bool is_delete, std::string_view key,
                                               std::uint64_t sent_at) {
  if (is_delete) {
    if (auto it = deletes_.find(key); it != deletes_.end() && it->second.sequence < sent_at) {
      deletes_.erase(it);
    }
  } else if (auto it = bumps_.find(key); it != bumps_.end() && it->second < sent_at) {
    bumps_.erase(it);
  }
}

CACHET_DECL auto invalidation_backlog::commands() const -> std::vector<command> {
  std::vector<command> out;
  out.reserve(size());
  for (const auto& [key, record] : deletes_) out.push_back({true, key, record.sequence});
  for (const auto& [key, sequence] : bumps_) out.push_back({false, key, sequence});
  return out;
}

CACHET_DECL void invalidation_backlog::confirmed(const command& c) {
  if (c.is_delete) {
    if (auto it = deletes_.find(c.key); it != deletes_.end() && it->second.sequence == c.sequence)
      deletes_.erase(it);
  } else if (auto it = bumps_.find(c.key); it != bumps_.end() && it->second == c.sequence) {
    bumps_.erase(it);
  }
}

}  // namespace cachet::detail

#endif
