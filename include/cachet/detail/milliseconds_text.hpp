#ifndef CACHET_DETAIL_MILLISECONDS_TEXT_HPP
#define CACHET_DETAIL_MILLISECONDS_TEXT_HPP

#include <chrono>
#include <string>

namespace cachet::detail {

// Whole milliseconds, rounded up so that waiting the stated time is always enough.
inline std::string milliseconds_text(std::chrono::nanoseconds d) {
  return std::to_string(std::chrono::ceil<std::chrono::milliseconds>(d).count()) + " ms";
}

}  // namespace cachet::detail

#endif
