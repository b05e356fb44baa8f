// Reductions over every element (axis = Attrs::all_axes) or along one axis, with keepdims.
#pragma once

#include <type_traits>

#include "autodiff/ops/rule_support.hpp"
#include "autodiff/ops/taylor_rules.hpp"

namespace jetgrad::rules {

// The same reduction applied to a batched coefficient [D] + shape(x): over every axis but D, or
// along the (negative, hence unchanged) axis.
inline Tensor reduce_coefficient(const Tensor& ck, const Attrs& at) {
  if (at.axis == Attrs::all_axes)
    return sum(reshape(ck, Shape{ck.shape()[0], ck.numel() / ck.shape()[0]}), 1);
  return sum(ck, at.axis, at.keepdims);
}

inline Tensor reduce_eval(Tensor (*all)(const Tensor&), Tensor (*along)(const Tensor&, int, bool),
                          const EvalArgs& e) {
  const Attrs& at = e.at();
  return at.axis == Attrs::all_axes ? all(e.x()) : along(e.x(), at.axis, at.keepdims);
}

struct SumOp {  // y = Σ x;  x̄ = g broadcast back over the reduced axes;  y_k = Σ x_k
  static Tensor eval(const EvalArgs& e) {
    return reduce_eval(static_cast<Tensor (*)(const Tensor&)>(&sum),
                       static_cast<Tensor (*)(const Tensor&, int, bool)>(&sum), e);
  }
  template <class X>
  static bool takes_one_g(const VjpArgs<X>&) {  // ones broadcast back are ones
    return true;
  }
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    if (a.g_is_one) {
      gx.set_one(0, a.g);
      return;
    }
    if constexpr (std::is_same_v<X, Tensor>) {
      if (a.at().axis == Attrs::all_axes) {  // the one value of g everywhere
        gx[0] = Tensor::full(a.x().shape(), a.g.item(), a.g.dtype());
        return;
      }
    }
    gx[0] = expand_reduced(a.g, a.x().shape(), a.at());
  }
  static void taylor(const TaylorArgs& t, Series& ys) {
    each_coefficient(t, 0, ys, [&](const Tensor& xk) { return reduce_coefficient(xk, t.at()); });
  }
};

// y = max x;  x̄ = g m / Σm with m = [x = y]: ties share the cotangent equally, so the rule is the
// same from either side of a tie (PyTorch's amax convention). The series follows the same
// selection: y_k = Σ x_k m / Σm.
struct MaxOp {
  static Tensor eval(const EvalArgs& e) {
    return reduce_eval(static_cast<Tensor (*)(const Tensor&)>(&max),
                       static_cast<Tensor (*)(const Tensor&, int, bool)>(&max), e);
  }
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    const Shape& s = a.x().shape();
    const Shape keep = keepdims_shape(s, a.at());
    const X mask = equal(a.x(), broadcast_to(reshape(a.out, keep), s));
    const X count =
        a.at().axis == Attrs::all_axes ? reshape(sum(mask), keep) : sum(mask, a.at().axis, /*keepdims=*/true);
    gx[0] = mask * broadcast_to(reshape(a.g, keep) / count, s);
  }
  static void taylor(const TaylorArgs& t, Series& ys) {
    const Tensor& x0 = t.x()[0];
    const Shape keep = keepdims_shape(x0.shape(), t.at());
    const Tensor mask = equal(x0, broadcast_to(reshape(t.y0(), keep), x0.shape()));
    const Tensor count =
        reshape(t.at().axis == Attrs::all_axes ? sum(mask) : sum(mask, t.at().axis, true), keep);
    const Tensor weight = mask / broadcast_to(count, x0.shape());
    each_coefficient(t, 0, ys, [&](const Tensor& xk) { return reduce_coefficient(weight * xk, t.at()); });
  }
};

// y = log Σ e^x (max-shifted);  x̄ = g e^(x - y);
// series: u = e^(x - y_0) (exp recurrence), s = Σ u (linear), y = y_0 + log s (log recurrence)
struct LogSumExpOp {
  static Tensor eval(const EvalArgs& e) {
    return reduce_eval(static_cast<Tensor (*)(const Tensor&)>(&logsumexp),
                       static_cast<Tensor (*)(const Tensor&, int, bool)>(&logsumexp), e);
  }
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    const Shape& s = a.x().shape();
    gx[0] = expand_reduced(a.g, s, a.at()) * exp(a.x() - expand_reduced(a.out, s, a.at()));
  }
  // Through the softmax weights p = exp(x - y):  y' = Σ p x'  and  p' = p (x' - y'), so
  //   y_k = Σ (1/k) Σ_{j=1..k} j x_j p_{k-j},   p_k = (1/k) Σ_{j=1..k} j (x_j - y_j) p_{k-j}.
  // Every term stays of the size of the result. (Expanding exp(x - y_0) first and taking the log
  // of its sum after cancels catastrophically when x's coefficients are large: the differential
  // tester found 3e-9 relative errors in c_4 of logsumexp of a value with |x_1| ≈ 250.)
  static void taylor(const TaylorArgs& t, Series& ys) {
    const SeriesView& x = t.x();
    if (x.zero()) return;
    const Attrs& at = t.at();
    const Shape& s = x[0].shape();
    const Tensor p0 = exp(x[0] - expand_reduced(t.y0(), s, at));
    Series ps, zs;  // p_1.., and z_j = x_j - y_j (broadcast back over the reduced axes)
    const SeriesView p{&p0, &ps}, z{&x[0], &zs};
    ys.reserve(static_cast<std::size_t>(t.K));
    for (int k = 1; k <= t.K; ++k) {
      ys.push_back(reduce_coefficient(ode_term(x, p, k), at));
      if (k == t.K) break;
      const Tensor& yk = ys.back();
      const Shape full = batched(yk.shape()[0], s);
      zs.push_back(x[k] - broadcast_to(reshape(yk, batched(yk.shape()[0], keepdims_shape(s, at))), full));
      ps.push_back(ode_term(z, p, k));
    }
  }
};

}  // namespace jetgrad::rules
