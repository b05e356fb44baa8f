// In-place updates y += αx and y *= α (BLAS level 1): the optimizers' parameter and state updates,
// without the temporaries an expression like theta - d * lr allocates and fills; and acc += a ⊙ b,
// the inner step of a Taylor product series.
#include <climits>
#include <cmath>
#include <string>
#include <type_traits>
#include <utility>

#include <cblas.h>

#include "autodiff/kernels/simd.hpp"
#include "autodiff/tensor_ops.hpp"

namespace jetgrad {

namespace {

blasint blas_length(const Tensor& t, const char* what) {
  if (t.numel() > static_cast<std::size_t>(INT_MAX))
    throw ValueError(std::string(what) + ": " + std::to_string(t.numel()) +
                     " elements exceed the BLAS index range");
  return static_cast<blasint>(t.numel());
}

// out[i] = alpha x[i] + y[i]
template <class T>
void axpy_kernel(T* out, const T* x, const T* y, std::size_t n, T alpha) {
  using B = detail::Batch<T>;
  constexpr std::size_t W = detail::simd_width<T>;
  const std::size_t full = n - n % W;
  const B valpha(alpha);
  for (std::size_t i = 0; i < full; i += W)
    xsimd::fma(valpha, B::load_unaligned(x + i), B::load_unaligned(y + i)).store_unaligned(out + i);
  for (std::size_t i = full; i < n; ++i) out[i] = std::fma(alpha, x[i], y[i]);
}

}  // namespace

void axpy(double alpha, const Tensor& x, Tensor& y) {
  check_same_dtype(x, y, "axpy");
  if (!(x.shape() == y.shape()))
    throw ShapeError("axpy: x has shape " + x.shape().str() + ", y has shape " + y.shape().str() +
                     " (they must match)");
  if (y.shares_buffer()) {
    // Copy on write would copy y and then update it: one pass into a fresh buffer instead (SAM's
    // perturbation θ + ε, with θ kept by the optimizer, is this case).
    Tensor out;
    out.resize(y.shape(), y.dtype());
    dispatch_dtype(y.dtype(), [&](auto z) {
      using T = decltype(z);
      axpy_kernel(out.data<T>(), x.data<T>(), std::as_const(y).data<T>(), y.numel(), static_cast<T>(alpha));
    });
    y = std::move(out);
    return;
  }
  const blasint n = blas_length(y, "axpy");
  dispatch_dtype(y.dtype(), [&](auto z) {
    using T = decltype(z);
    if constexpr (std::is_same_v<T, float>)
      cblas_saxpy(n, static_cast<float>(alpha), x.data<float>(), 1, y.data<float>(), 1);
    else
      cblas_daxpy(n, alpha, x.data<double>(), 1, y.data<double>(), 1);
  });
}

void scale(Tensor& y, double alpha) {
  const blasint n = blas_length(y, "scale");
  dispatch_dtype(y.dtype(), [&](auto z) {
    using T = decltype(z);
    if constexpr (std::is_same_v<T, float>)
      cblas_sscal(n, static_cast<float>(alpha), y.data<float>(), 1);
    else
      cblas_dscal(n, alpha, y.data<double>(), 1);
  });
}

namespace {
// Same elements in the same order: the shapes agree once leading axes of length 1 are dropped
// (a Taylor coefficient [1, m, n] against a value [m, n]).
bool same_layout(const Shape& x, const Shape& y) {
  int i = 0, j = 0;
  while (i < x.rank() && x[i] == 1) ++i;
  while (j < y.rank() && y[j] == 1) ++j;
  if (x.rank() - i != y.rank() - j) return false;
  for (; i < x.rank(); ++i, ++j)
    if (x[i] != y[j]) return false;
  return true;
}

// pc[i] = fma(p_i, alpha, pc[i]) with p_i = pa[i] pb[i] (pb[0] for every i when B1), or
// fma(pa[i], pb[i], pc[i]) when alpha is 1.
template <bool B1, class T>
void add_product_kernel(T* pc, const T* pa, const T* pb, std::size_t n, T alpha) {
  using B = detail::Batch<T>;
  constexpr std::size_t W = detail::simd_width<T>;
  const std::size_t full = n - n % W;
  const B valpha(alpha), vb0(pb[0]);
  const auto b_at = [&](std::size_t i) { return B1 ? vb0 : B::load_unaligned(pb + i); };
  if (alpha == T(1)) {
    for (std::size_t i = 0; i < full; i += W)
      xsimd::fma(B::load_unaligned(pa + i), b_at(i), B::load_unaligned(pc + i)).store_unaligned(pc + i);
    for (std::size_t i = full; i < n; ++i) pc[i] = std::fma(pa[i], pb[B1 ? 0 : i], pc[i]);
  } else {
    for (std::size_t i = 0; i < full; i += W)
      xsimd::fma(B::load_unaligned(pa + i) * b_at(i), valpha, B::load_unaligned(pc + i))
          .store_unaligned(pc + i);
    for (std::size_t i = full; i < n; ++i) pc[i] = std::fma(pa[i] * pb[B1 ? 0 : i], alpha, pc[i]);
  }
}

}  // namespace

void add_product(Tensor& acc, const Tensor& a, const Tensor& b, double alpha) {
  const bool a_fits =
      same_layout(a.shape(), acc.shape()) && a.dtype() == acc.dtype() && b.dtype() == acc.dtype();
  const bool b_full = same_layout(b.shape(), acc.shape());
  const bool b_one = b.numel() == 1 && b.rank() <= acc.rank();
  if (!a_fits || !(b_full || b_one) || acc.numel() == 0) {
    // broadcasting (and its checks) through the general kernels
    if (alpha == 1.0)
      acc += a * b;
    else
      acc += scaled_product(a, b, alpha);
    return;
  }
  dispatch_dtype(acc.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* pc = acc.data<T>();  // detaches a shared buffer: pa and pb stay valid
    if (b_full)
      add_product_kernel<false>(pc, pa, pb, acc.numel(), static_cast<T>(alpha));
    else
      add_product_kernel<true>(pc, pa, pb, acc.numel(), static_cast<T>(alpha));
  });
}

}  // namespace jetgrad
