// Internal: small xsimd helpers shared by the kernels (included only from .cpp files).
#pragma once

#include <algorithm>
#include <cstddef>

#include <xsimd/xsimd.hpp>

namespace jetgrad::detail {

template <class T>
using Batch = xsimd::batch<T>;

template <class T>
constexpr std::size_t simd_width = Batch<T>::size;

// Loads n < width elements, the rest of the lanes set to `pad`.
template <class T>
inline Batch<T> load_partial(const T* p, std::size_t n, T pad) {
  alignas(64) T buf[simd_width<T>];
  std::fill(buf, buf + simd_width<T>, pad);
  std::copy(p, p + n, buf);
  return Batch<T>::load_aligned(buf);
}

template <class T>
inline void store_partial(T* p, std::size_t n, const Batch<T>& v) {
  alignas(64) T buf[simd_width<T>];
  v.store_aligned(buf);
  std::copy(buf, buf + n, p);
}

}  // namespace jetgrad::detail
