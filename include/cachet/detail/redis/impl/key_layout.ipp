#ifndef CACHET_DETAIL_REDIS_IMPL_KEY_LAYOUT_IPP
#define CACHET_DETAIL_REDIS_IMPL_KEY_LAYOUT_IPP

// Bodies of <cachet/detail/redis/key_layout.hpp>; see <cachet/detail/linkage.hpp>.

#include <cachet/detail/redis/key_layout.hpp>

namespace cachet::detail {

CACHET_DECL key_layout key_layout::one_server(const std::string& prefix, std::uint64_t schema) {
  key_layout layout;
  layout.buckets_.push_back(
      {version_base(prefix, schema) + ":", version_base(prefix, schema) + "#"});
  layout.shared_counter_base_ = layout.buckets_.front().counter_base;
  return layout;
}

CACHET_DECL key_layout key_layout::cluster(const std::string& prefix, std::uint64_t schema,
                                           std::size_t buckets) {
  if (buckets == 0 || buckets > resp3::cluster_slot_count || (buckets & (buckets - 1)) != 0) {
    throw cachet::error("cachet::redis: cluster_buckets is " + std::to_string(buckets) +
                        ", but it must be a power of two from 1 to 16384; use the default, 64");
  }
  if (prefix.find_first_of("{}") != std::string::npos) {
    throw cachet::error("cachet::redis: the key prefix \"" + prefix +
                        "\" has a brace, which would cut the cluster buckets' hash tags short; "
                        "use a prefix without '{' or '}' on a Redis Cluster");
  }
  key_layout layout;
  const std::size_t width = resp3::cluster_slot_count / buckets;
  const std::string version = ":v" + std::to_string(schema);
  for (std::size_t i = 0; i < buckets; ++i) {
    const std::string stem = prefix + "#" + std::to_string(i) + ".";
    for (std::uint64_t n = 0;; ++n) {
      const std::string tag = stem + std::to_string(n);
      if (resp3::cluster_slot(tag) / width == i) {
        layout.buckets_.push_back(
            {"{" + tag + "}" + version + ":", "{" + tag + "}" + version + "#"});
        break;
      }
    }
  }
  layout.shared_counter_base_ = version_base(prefix, schema) + "#";
  return layout;
}

}  // namespace cachet::detail

#endif
