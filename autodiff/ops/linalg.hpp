// Matrix product of operands of rank >= 2 (var.cpp promotes 1-D operands by reshaping), with
// broadcast batch axes.
#pragma once

#include "autodiff/ops/rule_support.hpp"
#include "autodiff/ops/taylor_rules.hpp"

namespace jetgrad::rules {

// Swaps the last two axes.
template <class X>
X matrix_transpose(const X& x) {
  std::array<int, Shape::max_rank> perm{};
  const int r = x.rank();
  for (int i = 0; i < r; ++i) perm[static_cast<std::size_t>(i)] = i;
  std::swap(perm[static_cast<std::size_t>(r - 2)], perm[static_cast<std::size_t>(r - 1)]);
  return transpose(x, std::span<const int>(perm.data(), static_cast<std::size_t>(r)));
}

// Y = A B;  Ā = G Bᵀ, B̄ = Aᵀ G (summed over broadcast batch axes);  Y_k = Σ_{j=0..k} A_j B_{k-j}
// (only Σ A_0 B_k when A carries no series, as for a layer's constant weights)
struct MatMulOp {
  static Tensor eval(const EvalArgs& e) { return matmul(e.x(0), e.x(1)); }
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    gx[0] = sum_to(matmul(a.g, matrix_transpose(a.x(1))), a.x(0).shape());
    gx[1] = sum_to(matmul(matrix_transpose(a.x(0)), a.g), a.x(1).shape());
  }
  static void taylor(const TaylorArgs& t, Series& ys) {
    const int r = t.y0().rank();
    const LiftedInput a(t.x(0), r), b(t.x(1), r);
    ys = bilinear_series(t.K, a.view, b.view, [](const Tensor& u, const Tensor& v) { return matmul(u, v); });
  }
};

}  // namespace jetgrad::rules
