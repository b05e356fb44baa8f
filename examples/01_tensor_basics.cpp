// 01 — Tensor basics: build tensors from xtensor arrays, compute with NumPy names, read results back.
//
// A jetgrad::Tensor holds float or double elements (the dtype is chosen when the tensor is built),
// follows NumPy's broadcasting, and converts to and from xt::xarray. Nothing here is differentiated:
// Tensor is the value type; the tape and Var build on it.
#include <iostream>

#include <xtensor/xarray.hpp>

#include "autodiff/tensor.hpp"
#include "autodiff/tensor_ops.hpp"

int main() {
  using jetgrad::Tensor;

  xt::xarray<double> a = {{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}};
  Tensor t(a);                          // copies the elements; dtype float64, shape (2, 3)
  std::cout << "t =\n" << t << "\n\n";  // printing shows the dtype and shape too

  // Elementwise maths (vectorized with xsimd) and a plain number broadcast against a tensor.
  Tensor u = exp(t) + 1.0;
  std::cout << "exp(t) + 1 =\n" << u << "\n\n";

  // Reductions: every element, or along one axis.
  std::cout << "sum(t) = " << sum(t).item() << "\n";
  std::cout << "sum(t, axis=0) = " << sum(t, 0) << "\n\n";

  // Matrix product (one BLAS gemm): (2, 3) @ (3, 2) -> (2, 2).
  Tensor m = matmul(t, transpose(t));
  std::cout << "t @ t^T =\n" << m << "\n\n";

  // Back to xtensor for anything jetgrad does not do itself.
  xt::xarray<double> back = m.array<double>();
  std::cout << "as xt::xarray: back(1, 0) = " << back(1, 0) << ", " << back.dimension() << " dimensions\n";

  // float32 tensors work the same way; mixing float32 and float64 in one operation is an error.
  Tensor f = Tensor::ones({2, 2}, jetgrad::DType::f32);
  std::cout << "ones(2, 2, float32) * 3 = " << f * 3.0 << "\n";

  // t @ t^T = [[14, 32], [32, 77]]: a quick self-check so the example fails loudly if anything is off.
  return (back(0, 0) == 14.0 && back(0, 1) == 32.0 && back(1, 1) == 77.0) ? 0 : 1;
}
