// The element types a Tensor can hold, chosen at run time.
#pragma once

#include <cstddef>
#include <cstdint>

namespace jetgrad {

enum class DType : std::uint8_t { f32, f64 };

template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::f32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::f64;
}

constexpr std::size_t dtype_size(DType d) { return d == DType::f32 ? sizeof(float) : sizeof(double); }
constexpr const char* dtype_name(DType d) { return d == DType::f32 ? "float32" : "float64"; }

// Calls f(T{}) with T the element type of d: the one place run-time dtype becomes a template argument.
template <class F>
decltype(auto) dispatch_dtype(DType d, F&& f) {
  if (d == DType::f32) return f(float{});
  return f(double{});
}

}  // namespace jetgrad
