// Exceptions thrown by jetgrad. Every message names what was expected and what came.
#pragma once

#include <stdexcept>
#include <string>

namespace jetgrad {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Shapes that do not fit together (broadcasting, matmul, reshape, axes).
struct ShapeError : Error {
  using Error::Error;
};

// float and double mixed, or an element type asked for that the tensor does not hold.
struct DTypeError : Error {
  using Error::Error;
};

// An argument outside what the operation accepts (an index, a degree, a step).
struct ValueError : Error {
  using Error::Error;
};

// A tape used wrongly: replayed after a recorded branch flipped, used from another thread,
// used after it was cleared, variables from two tapes mixed.
struct TapeError : Error {
  using Error::Error;
};

}  // namespace jetgrad
