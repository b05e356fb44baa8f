// Helpers of the layer tests against tests/reference/conv_reference.hpp (PyTorch's numbers):
// rebuild a pattern input, compare a tensor with a reference array.
#pragma once

#include <cmath>
#include <cstddef>

#include "../reference/conv_reference.hpp"
#include "autodiff/tensor.hpp"
#include "gradcheck_support.hpp"

namespace convref {

using jetgrad::DType;
using jetgrad::Shape;
using jetgrad::Tensor;

inline Shape shape_of(const conv_ref::Pattern& p) {
  Shape s;
  for (int i = 0; i < p.rank; ++i) s.push_back(p.dims[static_cast<std::size_t>(i)]);
  return s;
}

// value[i] = scale sin(freq i + phase), as the generator script makes it.
inline Tensor make(const conv_ref::Pattern& p) {
  Tensor t(DType::f64, shape_of(p));
  for (std::size_t i = 0; i < t.numel(); ++i)
    t.set(i, p.scale * std::sin(p.freq * static_cast<double>(i) + p.phase));
  return t;
}

// The cotangent the reference gradients are taken along: cot[i] = cos(0.3 i + 0.2).
inline Tensor cotangent(const Shape& s) {
  Tensor t(DType::f64, s);
  for (std::size_t i = 0; i < t.numel(); ++i) t.set(i, std::cos(0.3 * static_cast<double>(i) + 0.2));
  return t;
}

// A reference array as a tensor of `shape` (the array's length must be shape.numel()).
template <std::size_t N>
Tensor expected(const double (&values)[N], const Shape& shape) {
  REQUIRE(shape.numel() == N);
  Tensor t(DType::f64, shape);
  for (std::size_t i = 0; i < N; ++i) t.set(i, values[i]);
  return t;
}

// Double-precision agreement with PyTorch.
constexpr double tol = 1e-10;

}  // namespace convref
