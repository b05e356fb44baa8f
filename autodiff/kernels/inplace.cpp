// In-place updates y += αx and y *= α (BLAS level 1): the optimizers' parameter and state updates,
// without the temporaries an expression like theta - d * lr allocates and fills.
#include <climits>
#include <string>
#include <type_traits>

#include <cblas.h>

#include "autodiff/tensor_ops.hpp"

namespace jetgrad {

namespace {

blasint blas_length(const Tensor& t, const char* what) {
  if (t.numel() > static_cast<std::size_t>(INT_MAX))
    throw ValueError(std::string(what) + ": " + std::to_string(t.numel()) +
                     " elements exceed the BLAS index range");
  return static_cast<blasint>(t.numel());
}

}  // namespace

void axpy(double alpha, const Tensor& x, Tensor& y) {
  check_same_dtype(x, y, "axpy");
  if (!(x.shape() == y.shape()))
    throw ShapeError("axpy: x has shape " + x.shape().str() + ", y has shape " + y.shape().str() +
                     " (they must match)");
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

}  // namespace jetgrad
