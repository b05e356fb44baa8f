// The message of an exception, for tests that assert what an error says.
#pragma once

#include <string>

namespace jetgrad::test {

// The what() of the E that f throws; empty if f throws nothing (so a Contains(...) on it fails).
template <class E, class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

}  // namespace jetgrad::test
