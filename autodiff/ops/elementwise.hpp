// Elementwise primitives: value, reverse rule and Taylor rule side by side.
// In the comments y is the output, g its cotangent, x, a, b the inputs, and x_k, y_k the
// normalized Taylor coefficients (docs/taylor.md derives each recurrence).
#pragma once

#include <numbers>
#include <type_traits>

#include "autodiff/ops/real.hpp"
#include "autodiff/ops/rule_support.hpp"
#include "autodiff/ops/taylor_rules.hpp"

namespace jetgrad::rules {

// ---- smooth unary ----------------------------------------------------------------------------

struct NegOp {  // y = -x;  x̄ = -g;  y_k = -x_k
  template <class X>
  static X eval(const EvalArgsT<X>& e) {
    return -e.x();
  }
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    gx.set_scaled(0, a.take_g(), -1.0);
  }
  static void taylor(const TaylorArgs& t, Series& ys) {
    each_coefficient(t, 0, ys, [](const Tensor& xk) { return -xk; });
  }
};

struct ExpOp {  // y = exp x;  x̄ = g y;  y_k = (1/k) Σ_{j=1..k} j x_j y_{k-j}
  template <class X>
  static X eval(const EvalArgsT<X>& e) {
    return exp(e.x());
  }
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    gx[0] = a.g * a.out;
  }
  static void taylor(const TaylorArgs& t, Series& ys) { ys = exp_series(t, t.x(), t.y0()); }
};

struct LogOp {  // y = log x;  x̄ = g / x;  y_k = (x_k - (1/k) Σ_{j=1..k-1} j y_j x_{k-j}) / x_0
  template <class X>
  static X eval(const EvalArgsT<X>& e) {
    return log(e.x());
  }
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    gx[0] = a.g / a.x();
  }
  static void taylor(const TaylorArgs& t, Series& ys) {
    const SeriesView& x = t.x();
    const SeriesView y{t.out, &ys};
    const Tensor inv_x0 = reciprocal(x[0]);
    for (int k = 1; k <= t.K; ++k) {
      Tensor num = x[k];
      for (int j = 1; j < k; ++j) num += (-static_cast<double>(j) / k) * (y[j] * x[k - j]);
      ys.push_back(num * inv_x0);
    }
  }
};

struct SinOp {  // y = sin x;  x̄ = g cos x;  (s, c)_k by the paired recurrence s' = c x', c' = -s x'
  template <class X>
  static X eval(const EvalArgsT<X>& e) {
    return sin(e.x());
  }
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    gx[0] = a.g * cos(a.x());
  }
  static void taylor(const TaylorArgs& t, Series& ys) {
    Series cs;
    trig_pair_series(t, t.x(), t.y0(), cos(t.x()[0]), -1.0, ys, cs);
  }
};

struct CosOp {  // y = cos x;  x̄ = -g sin x;  the same paired recurrence
  template <class X>
  static X eval(const EvalArgsT<X>& e) {
    return cos(e.x());
  }
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    gx[0] = -(a.g * sin(a.x()));
  }
  static void taylor(const TaylorArgs& t, Series& ys) {
    Series ss;
    trig_pair_series(t, t.x(), sin(t.x()[0]), t.y0(), -1.0, ss, ys);
  }
};

struct TanOp {  // y = tan x;  x̄ = g (1 + y²);  y' = w x' with w = 1 + y²
  template <class X>
  static X eval(const EvalArgsT<X>& e) {
    return tan(e.x());
  }
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    gx[0] = a.g * (a.out * a.out + 1.0);
  }
  static void taylor(const TaylorArgs& t, Series& ys) {
    const Tensor& y0 = t.y0();
    ys = ode_series(t, t.x(), y0, y0 * y0 + 1.0,
                    [](const SeriesView& y, int k) { return cauchy(y, y, k, 0, k); });
  }
};

struct TanhOp {  // y = tanh x;  x̄ = g (1 - y²);  y' = w x' with w = 1 - y²
  template <class X>
  static X eval(const EvalArgsT<X>& e) {
    return tanh(e.x());
  }
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    gx[0] = a.g * (1.0 - a.out * a.out);
  }
  static void taylor(const TaylorArgs& t, Series& ys) {
    const Tensor& y0 = t.y0();
    ys = ode_series(t, t.x(), y0, 1.0 - y0 * y0,
                    [](const SeriesView& y, int k) { return -cauchy(y, y, k, 0, k); });
  }
};

struct SinhOp {  // y = sinh x;  x̄ = g cosh x;  s' = c x', c' = s x'
  template <class X>
  static X eval(const EvalArgsT<X>& e) {
    return sinh(e.x());
  }
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    gx[0] = a.g * cosh(a.x());
  }
  static void taylor(const TaylorArgs& t, Series& ys) {
    Series cs;
    trig_pair_series(t, t.x(), t.y0(), cosh(t.x()[0]), 1.0, ys, cs);
  }
};

struct CoshOp {  // y = cosh x;  x̄ = g sinh x
  template <class X>
  static X eval(const EvalArgsT<X>& e) {
    return cosh(e.x());
  }
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    gx[0] = a.g * sinh(a.x());
  }
  static void taylor(const TaylorArgs& t, Series& ys) {
    Series ss;
    trig_pair_series(t, t.x(), sinh(t.x()[0]), t.y0(), 1.0, ss, ys);
  }
};

// y = √x;  x̄ = g / (2y) (infinite at x = 0: anomaly mode reports it);
// y² = x gives y_k = (x_k - Σ_{j=1..k-1} y_j y_{k-j}) / (2 y_0)
struct SqrtOp {
  template <class X>
  static X eval(const EvalArgsT<X>& e) {
    return sqrt(e.x());
  }
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    gx[0] = a.g / (2.0 * a.out);
  }
  static void taylor(const TaylorArgs& t, Series& ys) {
    const SeriesView& x = t.x();
    const SeriesView y{t.out, &ys};
    const Tensor inv_2y0 = 0.5 / t.y0();
    for (int k = 1; k <= t.K; ++k) {
      Tensor num = x[k];
      if (k > 1) num += -cauchy(y, y, k, 1, k - 1);
      ys.push_back(num * inv_2y0);
    }
  }
};

// y = x^p;  x̄ = g p x^(p-1);  integer p >= 2 by repeated Cauchy products (exact at x = 0),
// otherwise x y' = p y x' gives y_k = (1/(k x_0)) Σ_{j=0..k-1} (p (k-j) - j) x_{k-j} y_j
struct PowScalarOp {
  template <class X>
  static X eval(const EvalArgsT<X>& e) {
    return pow(e.x(), e.at().scalar);
  }
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    const double p = a.at().scalar;
    if (p == 0.0) return;
    if (p == 1.0) {
      gx[0] = a.g;
      return;
    }
    if (p == 2.0) {
      gx[0] = a.g * (2.0 * a.x());
      return;
    }
    gx[0] = a.g * (p * pow(a.x(), p - 1.0));
  }
  static void taylor(const TaylorArgs& t, Series& ys) {
    const double p = t.at().scalar;
    const SeriesView& x = t.x();
    if (p == 0.0) return;
    if (p == std::floor(p) && p >= 1.0 && p <= 16.0) {
      Series acc = *x.series;
      Tensor acc0 = x[0];
      for (int m = 2; m <= static_cast<int>(p); ++m) {
        Series next = product_series(t.K, SeriesView{&acc0, &acc}, x);
        acc0 = acc0 * x[0];
        acc = std::move(next);
      }
      ys = std::move(acc);
      return;
    }
    const SeriesView y{t.out, &ys};
    const Tensor inv_x0 = reciprocal(x[0]);
    for (int k = 1; k <= t.K; ++k) {
      Tensor acc = (p * k) * (x[k] * y[0]);
      for (int j = 1; j < k; ++j) acc += (p * (k - j) - j) * (x[k - j] * y[j]);
      ys.push_back(acc * inv_x0 * (1.0 / k));
    }
  }
};

// y = σ(x) = 1 / (1 + e^-x);  x̄ = g y (1 - y);  y' = w x' with w = y - y²
inline Series sigmoid_series(const TaylorArgs& t, const SeriesView& x, const Tensor& y0) {
  return ode_series(t, x, y0, y0 - y0 * y0,
                    [](const SeriesView& y, int k) { return y[k] - cauchy(y, y, k, 0, k); });
}
struct SigmoidOp {
  template <class X>
  static X eval(const EvalArgsT<X>& e) {
    return sigmoid(e.x());
  }
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    gx[0] = a.g * (a.out * (1.0 - a.out));
  }
  static void taylor(const TaylorArgs& t, Series& ys) { ys = sigmoid_series(t, t.x(), t.y0()); }
};

struct SoftplusOp {  // y = log(1 + e^x);  x̄ = g σ(x);  y' = σ(x) x'
  template <class X>
  static X eval(const EvalArgsT<X>& e) {
    return softplus(e.x());
  }
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    gx[0] = a.g * sigmoid(a.x());
  }
  static void taylor(const TaylorArgs& t, Series& ys) {
    const Tensor s0 = sigmoid(t.x()[0]);
    const Series ss = sigmoid_series(t, t.x(), s0);
    const SeriesView s{&s0, &ss};
    for (int k = 1; k <= t.K; ++k) ys.push_back(ode_term(t.x(), s, k));
  }
};

struct ErfOp {  // y = erf x;  x̄ = g (2/√π) e^(-x²);  y' = (2/√π) e^u x' with u = -x²
  template <class X>
  static X eval(const EvalArgsT<X>& e) {
    return erf(e.x());
  }
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    gx[0] = a.g * (std::numbers::inv_sqrtpi * 2.0 * exp(-(a.x() * a.x())));
  }
  static void taylor(const TaylorArgs& t, Series& ys) {
    const SeriesView& x = t.x();
    const Tensor u0 = -(x[0] * x[0]);
    Series us = product_series(t.K, x, x);
    for (Tensor& c : us) c = -c;
    const Tensor e0 = exp(u0);
    const Series es = exp_series(t, SeriesView{&u0, &us}, e0);
    const SeriesView e{&e0, &es};
    for (int k = 1; k <= t.K; ++k) ys.push_back((2.0 * std::numbers::inv_sqrtpi) * ode_term(x, e, k));
  }
};

// ---- piecewise smooth unary: the subgradient at the kink is 0 --------------------------------

struct AbsOp {  // y = |x|;  x̄ = g sign(x), sign(0) = 0;  y_k = sign(x_0) x_k
  template <class X>
  static X eval(const EvalArgsT<X>& e) {
    return abs(e.x());
  }
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    const X zero = scalar_like(a.x(), 0.0);
    gx[0] = a.g * (greater(a.x(), zero) - less(a.x(), zero));
  }
  static void taylor(const TaylorArgs& t, Series& ys) {
    const Tensor s = sign(t.x()[0]);
    each_coefficient(t, 0, ys, [&](const Tensor& xk) { return s * xk; });
  }
};

struct ReluOp {  // y = max(x, 0);  x̄ = g [x > 0];  y_k = [x_0 > 0] x_k
  template <class X>
  static X eval(const EvalArgsT<X>& e) {
    return relu(e.x());
  }
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    gx[0] = a.g * greater(a.x(), scalar_like(a.x(), 0.0));
  }
  static void taylor(const TaylorArgs& t, Series& ys) {
    const Tensor m = greater(t.x()[0], scalar_like(t.x()[0], 0.0));
    each_coefficient(t, 0, ys, [&](const Tensor& xk) { return m * xk; });
  }
};

// ---- binary, broadcasting: each cotangent is summed back to its input's shape ----------------

// y_k = ±a_k ± b_k, each made the output's batched shape.
inline void signed_sum_series(const TaylorArgs& t, double sign_b, Series& ys) {
  const SeriesView &a = t.x(0), &b = t.x(1);
  if (a.zero() && b.zero()) return;
  for (int k = 1; k <= t.K; ++k) {
    if (b.zero())
      ys.push_back(to_output(a[k], t.y0()));
    else if (a.zero())
      ys.push_back(to_output(sign_b == 1.0 ? b[k] : -b[k], t.y0()));
    else
      ys.push_back(sign_b == 1.0 ? lift(a[k], t.y0().rank()) + lift(b[k], t.y0().rank())
                                 : lift(a[k], t.y0().rank()) - lift(b[k], t.y0().rank()));
  }
}

// ---- a constant operand (the number in the entry, Node::constant) -------------------------------
// `x + 2.0`, `1.0 - x`, `100.0 * t` are one entry each instead of a Constant entry and a binary
// op: scalar code records and sweeps a fifth fewer entries. x - c is x + (-c), exactly.

struct AddConstantOp {                        // y = x + c;  x̄ = g;  y_k = x_k
  static constexpr bool has_constant = true;  // c is Node::constant

  template <class X>
  static X eval(const EvalArgsT<X>& e) {
    return e.x() + e.constant;
  }
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    gx[0] = a.g;
  }
  static void taylor(const TaylorArgs& t, Series& ys) {
    each_coefficient(t, 0, ys, [](const Tensor& xk) { return xk; });
  }
};

struct ConstantMinusOp {                      // y = c - x;  x̄ = -g;  y_k = -x_k
  static constexpr bool has_constant = true;  // c is Node::constant

  template <class X>
  static X eval(const EvalArgsT<X>& e) {
    return e.constant - e.x();
  }
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    gx.set_scaled(0, a.take_g(), -1.0);
  }
  static void taylor(const TaylorArgs& t, Series& ys) {
    each_coefficient(t, 0, ys, [](const Tensor& xk) { return -xk; });
  }
};

struct MulConstantOp {                        // y = c x;  x̄ = c g;  y_k = c x_k
  static constexpr bool has_constant = true;  // c is Node::constant

  template <class X>
  static X eval(const EvalArgsT<X>& e) {
    return e.constant * e.x();
  }
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    gx.set_scaled(0, a.take_g(), a.constant);
  }
  static void taylor(const TaylorArgs& t, Series& ys) {
    const double c = t.constant;
    each_coefficient(t, 0, ys, [c](const Tensor& xk) { return c * xk; });
  }
};

struct AddOp {  // y = a + b;  ā = g, b̄ = g;  y_k = a_k + b_k
  template <class X>
  static X eval(const EvalArgsT<X>& e) {
    return e.x(0) + e.x(1);
  }
  template <class X>
  static bool takes_one_g(const VjpArgs<X>& a) {  // ones pass through to inputs of their shape
    return a.inputs_have_output_shape();
  }
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    for (int i = 0; i < 2; ++i) {
      if (!a.wants(i)) continue;
      const auto k = static_cast<std::size_t>(i);
      if (a.g_is_one)
        gx.set_one(k, a.g);
      else
        gx[k] = sum_to(a.g, a.x(i).shape());
    }
  }
  static void taylor(const TaylorArgs& t, Series& ys) { signed_sum_series(t, 1.0, ys); }
};

struct SubOp {  // y = a - b;  ā = g, b̄ = -g;  y_k = a_k - b_k
  template <class X>
  static X eval(const EvalArgsT<X>& e) {
    return e.x(0) - e.x(1);
  }
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    if (a.wants(0)) gx[0] = sum_to(a.g, a.x(0).shape());
    if (a.wants(1)) gx.set_scaled(1, sum_to(a.g, a.x(1).shape()), -1.0);
  }
  static void taylor(const TaylorArgs& t, Series& ys) { signed_sum_series(t, -1.0, ys); }
};

struct MulOp {  // y = a b;  ā = g b, b̄ = g a;  y_k = Σ_{j=0..k} a_j b_{k-j}
  template <class X>
  static X eval(const EvalArgsT<X>& e) {
    return e.x(0) * e.x(1);
  }
  template <class X>
  static bool takes_one_g(const VjpArgs<X>& a) {
    return a.inputs_have_output_shape();
  }
  // An input's adjoint offered by the sweep takes g b (or 2 g x) in one fused pass; else the
  // products are written over g's buffer where the sweep hands it over.
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    if (a.g_is_one) {  // g = 1: each input's cotangent is the other factor itself (2x for x · x)
      if (&a.x(0) == &a.x(1)) {
        if (a.wants(0)) gx[0] = a.x(0) * 2.0;
        return;
      }
      if (a.wants(0)) gx[0] = a.x(1);
      if (a.wants(1)) gx[1] = a.x(0);
      return;
    }
    if (&a.x(0) == &a.x(1)) {  // x · x (the same entry twice): one product, 2 g x, to one adjoint
      if (!a.wants(0)) return;
      if constexpr (std::is_same_v<X, Tensor>) {
        if (Tensor* acc = a.adjoint_to_add(0, a.g.shape())) {
          add_product(*acc, a.g, a.x(0), 2.0 * a.sign(0));
          return;
        }
      }
      gx[0] = sum_to(scaled_product(a.take_g(), a.x(0), 2.0), a.x(0).shape());
      return;
    }
    std::array<Tensor*, 2> acc{};
    if constexpr (std::is_same_v<X, Tensor>)
      acc = {a.adjoint_to_add(0, a.g.shape()), a.adjoint_to_add(1, a.g.shape())};
    if (a.wants(0) && a.wants(1) && !acc[0] && !acc[1]) {  // g b and g a in one pass
      auto [g0, g1] = mul_cotangents(a.take_g(), a.x(0), a.x(1));
      gx[0] = sum_to(std::move(g0), a.x(0).shape());
      gx[1] = sum_to(std::move(g1), a.x(1).shape());
      return;
    }
    for (int i = 0; i < 2; ++i) {
      if (!a.wants(i)) continue;
      const X& other = a.x(1 - i);
      if constexpr (std::is_same_v<X, Tensor>) {
        if (Tensor* into = acc[static_cast<std::size_t>(i)]) {
          add_product(*into, a.g, other, a.sign(i));
          continue;
        }
      }
      gx[static_cast<std::size_t>(i)] = sum_to(a.g * other, a.x(i).shape());
    }
  }
  static void taylor(const TaylorArgs& t, Series& ys) {
    const int r = t.y0().rank();
    const LiftedInput a(t.x(0), r), b(t.x(1), r);
    ys = product_series(t.K, a.view, b.view);
    for (Tensor& c : ys)
      if (!(c.shape() == batched(c.shape()[0], t.y0().shape()))) c = to_output(c, t.y0());
  }
};

// y = a / b;  ā = g / b, b̄ = -g y / b;  y_k = (a_k - Σ_{j=1..k} b_j y_{k-j}) / b_0
struct DivOp {
  template <class X>
  static X eval(const EvalArgsT<X>& e) {
    return e.x(0) / e.x(1);
  }
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    const X ga = a.g / a.x(1);
    if (a.wants(1)) gx[1] = -sum_to(ga * a.out, a.x(1).shape());
    if (a.wants(0)) gx[0] = sum_to(ga, a.x(0).shape());
  }
  static void taylor(const TaylorArgs& t, Series& ys) {
    const int r = t.y0().rank();
    const LiftedInput a(t.x(0), r), b(t.x(1), r);
    const Tensor inv_b0 = reciprocal(b.view[0]);
    const SeriesView y{t.out, &ys};
    for (int k = 1; k <= t.K; ++k) {
      std::optional<Tensor> num;
      if (!a.view.zero()) num = to_output(a.view[k], t.y0());  // full shape: the b terms add into it
      if (!b.view.zero()) {
        for (int j = 1; j <= k; ++j) {
          Tensor term = b.view[j] * y[k - j];
          if (num)
            *num += -term;
          else
            num = -term;
        }
      }
      ys.push_back(to_output(*num * inv_b0, t.y0()));
    }
  }
};

// ---- piecewise constant ----------------------------------------------------------------------

struct CompareOp {  // y = [a ∘ b] as 0/1; derivative zero everywhere it exists; zero series
  template <class X>
  static X eval(const EvalArgsT<X>& e) {
    switch (e.at().compare) {
      case CompareKind::less:
        return less(e.x(0), e.x(1));
      case CompareKind::less_equal:
        return less_equal(e.x(0), e.x(1));
      case CompareKind::greater:
        return greater(e.x(0), e.x(1));
      case CompareKind::greater_equal:
        return greater_equal(e.x(0), e.x(1));
      case CompareKind::equal:
        return equal(e.x(0), e.x(1));
      case CompareKind::not_equal:
        return not_equal(e.x(0), e.x(1));
    }
    throw Error("compare: unknown comparison");
  }
  template <class X>
  static void vjp(const VjpArgs<X>&, Cotangents<X>&) {}
  static void taylor(const TaylorArgs&, Series&) {}
};

struct WhereOp {  // y = c ? a : b;  ā = c ? g : 0, b̄ = c ? 0 : g, c̄ = 0;  y_k = c ? a_k : b_k
  template <class X>
  static X eval(const EvalArgsT<X>& e) {
    return where(e.x(0), e.x(1), e.x(2));
  }
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    const X zero = scalar_like(a.g, 0.0);
    if (a.wants(1)) gx[1] = sum_to(where(a.x(0), a.g, zero), a.x(1).shape());
    if (a.wants(2)) gx[2] = sum_to(where(a.x(0), zero, a.g), a.x(2).shape());
  }
  static void taylor(const TaylorArgs& t, Series& ys) {
    const SeriesView &a = t.x(1), &b = t.x(2);
    if (a.zero() && b.zero()) return;
    const int r = t.y0().rank();
    const Tensor zero = scalar_like(t.y0(), 0.0);
    for (int k = 1; k <= t.K; ++k) {
      const Tensor ak = a.zero() ? zero : lift(a[k], r);
      const Tensor bk = b.zero() ? zero : lift(b[k], r);
      Tensor yk = where(t.x(0)[0], ak, bk);
      // a zero side drops its shape from the broadcast: make every coefficient [D] + shape(y)
      ys.push_back(yk.shape() == batched(t.D, t.y0().shape()) ? std::move(yk) : to_output(yk, t.y0()));
    }
  }
};

struct StopGradientOp {  // y = x;  x̄ = 0;  zero series
  template <class X>
  static X eval(const EvalArgsT<X>& e) {
    return e.x();
  }
  template <class X>
  static void vjp(const VjpArgs<X>&, Cotangents<X>&) {}
  static void taylor(const TaylorArgs&, Series&) {}
};

// y = 1 if every element of the condition is nonzero, else 0. The outcome recorded with the
// entry is checked again at every replay.
struct BranchOp {
  static Tensor eval(const EvalArgs& e) {
    const Tensor& c = e.x();
    bool all = true;
    for (std::size_t i = 0; i < c.numel() && all; ++i) all = c.at(i) != 0.0;
    return Tensor(all ? 1.0 : 0.0, c.dtype());
  }
  template <class X>
  static void vjp(const VjpArgs<X>&, Cotangents<X>&) {}
  static void taylor(const TaylorArgs&, Series&) {}
};

}  // namespace jetgrad::rules
