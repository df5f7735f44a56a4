#ifndef CACHET_IMPL_TIERED_IPP
#define CACHET_IMPL_TIERED_IPP

// Bodies of <cachet/tiered.hpp>; see <cachet/detail/linkage.hpp>.

#include <cachet/tiered.hpp>

namespace cachet {

CACHET_DECL void tiered<memory, redis>::invalidate_tag(std::string_view tag) {
  near_->invalidate_tag(tag);
  far_->invalidate_tag(tag);
  // Again once Redis confirmed: a fill from a read made before that is stale as well.
  near_->invalidate_tag(tag);
}

CACHET_DECL void tiered<memory, redis>::start_channel() {
  std::lock_guard lock(start_mutex_);
  if (started_.load(std::memory_order_relaxed)) return;
  channel_ = std::make_unique<detail::invalidation_channel>(far_->runtime().client().get_config(),
                                                            coherence_);
  started_.store(true, std::memory_order_release);
}

}  // namespace cachet

#endif
