// Matrix product of operands of rank >= 2 (var.cpp promotes 1-D operands by reshaping), with
// broadcast batch axes, either operand read transposed (BLAS's trans flags: no copies).
#pragma once

#include "autodiff/ops/rule_support.hpp"
#include "autodiff/ops/taylor_rules.hpp"

namespace jetgrad::rules {

inline Transposed transposed_of(const Attrs& at) { return {.a = at.transpose_a, .b = at.transpose_b}; }

// Y = op(A) op(B), op(M) = M or Mᵀ as the attributes say.
//   Ā = G op(B)ᵀ, or op(B) Gᵀ when A is read transposed (Āᵀ is what is stored);
//   B̄ = op(A)ᵀ G, or Gᵀ op(A) when B is read transposed;
// each one flagged product, summed over broadcast batch axes.
//   Y_k = Σ_{j=0..k} op(A_j) op(B_{k-j})  (only op(A_0) op(B_k) when A carries no series, as for a
//   layer's constant weights)
// Its value may be deferred (layout, eval_into): the tape records the product's shape and multiplies
// it out when first read, so a product nothing reads is never computed; its Taylor rule reads only
// the output's rank.
struct MatMulOp {
  static Tensor eval(const EvalArgs& e) { return matmul(e.x(0), e.x(1), transposed_of(e.at())); }
  static Tensor layout(const EvalArgs& e) { return matmul_layout(e.x(0), e.x(1), transposed_of(e.at())); }
  static void eval_into(const EvalArgs& e, Tensor& out) {
    matmul_into(out, e.x(0), e.x(1), transposed_of(e.at()));
  }
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    const Transposed t = transposed_of(a.at());
    if (a.wants(0)) {
      gx[0] = t.a ? sum_to(matmul(a.x(1), a.g, {.a = t.b, .b = true}), a.x(0).shape())
                  : sum_to(matmul(a.g, a.x(1), {.b = !t.b}), a.x(0).shape());
    }
    if (a.wants(1)) {
      gx[1] = t.b ? sum_to(matmul(a.g, a.x(0), {.a = true, .b = t.a}), a.x(1).shape())
                  : sum_to(matmul(a.x(0), a.g, {.a = !t.a}), a.x(1).shape());
    }
  }
  static void taylor(const TaylorArgs& t, Series& ys) {
    const int r = t.y0().rank();
    const Transposed flags = transposed_of(t.at());
    const LiftedInput a(t.x(0), r), b(t.x(1), r);
    ys = bilinear_series(
        t.K, a.view, b.view, [flags](const Tensor& u, const Tensor& v) { return matmul(u, v, flags); },
        [flags](Tensor& acc, const Tensor& u, const Tensor& v) { add_matmul(acc, u, v, flags); });
  }
};

}  // namespace jetgrad::rules
