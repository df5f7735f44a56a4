#ifndef CACHET_TESTS_SUPPORT_CONSTRUCTION_ERROR_HPP
#define CACHET_TESTS_SUPPORT_CONSTRUCTION_ERROR_HPP

#include <cachet/error.hpp>

#include <string>

namespace cachet_test {

/// The message of the cachet::error that make() throws, or "" when it throws none: for tests
/// of constructions that must be refused with a message naming what is wrong.
std::string construction_error(const auto& make) {
  try {
    make();
  } catch (const cachet::error& e) {
    return e.what();
  }
  return {};
}

}  // namespace cachet_test

#endif
