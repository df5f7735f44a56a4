#ifndef CACHET_ERROR_HPP
#define CACHET_ERROR_HPP

#include <stdexcept>

namespace cachet {

/// The base of every exception cachet throws, so one `catch (const cachet::error&)` handles them
/// all. Each message says what happened and what to do about it.
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace cachet

#endif
