// Shared helpers of the Taylor rules. Conventions (docs/taylor.md has the equations):
//  - coefficients are normalized: x(t) = Σ_k x_k t^k, x_k = x^(k)(0) / k!;
//  - an entry's series holds x_1..x_K, each of shape [D] + shape(x) for D directions at once;
//    the value x_0 (shape(x)) is the entry's value and broadcasts against them;
//  - an empty series is a symbolic zero (the entry does not depend on the directions).
#pragma once

#include <vector>

#include "autodiff/ops/rule_support.hpp"

namespace jetgrad::rules {

using Series = std::vector<Tensor>;  // x_1 .. x_K

// A read-only view of x_0..x_K: x[0] is the value, x[k] the k-th coefficient.
struct SeriesView {
  const Tensor* value = nullptr;
  const Series* series = nullptr;  // nullptr or empty: zero series

  bool zero() const { return series == nullptr || series->empty(); }
  const Tensor& operator[](int k) const {
    return k == 0 ? *value : (*series)[static_cast<std::size_t>(k - 1)];
  }
};

struct TaylorArgs {
  int K = 1;
  std::size_t D = 1;
  std::array<SeriesView, Node::max_inputs> in{};
  int num_inputs = 0;
  const Tensor* out = nullptr;  // the output's value y_0
  const Attrs* attrs = nullptr;
  double constant = 0.0;  // Node::constant(), for the ops with a constant operand

  const SeriesView& x(int i = 0) const { return in[static_cast<std::size_t>(i)]; }
  const Attrs& at() const { return *attrs; }
  const Tensor& y0() const { return *out; }
};

// [D] + shape(x), for a coefficient of the (D-batched) series of a tensor of shape `s`.
inline Shape batched(std::size_t D, const Shape& s) {
  Shape b;
  b.push_back(D);
  for (std::size_t d : s) b.push_back(d);
  return b;
}

// A coefficient of shape [D] + s viewed with rank(s) raised to `rank` by unit axes after D, so that
// NumPy broadcasting against values and other coefficients lines up.
inline Tensor lift(const Tensor& coefficient, int rank) {
  if (coefficient.rank() - 1 >= rank) return coefficient;
  Shape s;
  s.push_back(coefficient.shape()[0]);
  for (int i = coefficient.rank() - 1; i < rank; ++i) s.push_back(1);
  for (int i = 1; i < coefficient.rank(); ++i) s.push_back(coefficient.shape()[i]);
  return reshape(coefficient, s);
}
inline Series lift(const Series& series, int rank) {
  Series out;
  out.reserve(series.size());
  for (const Tensor& c : series) out.push_back(lift(c, rank));
  return out;
}

// Linear ops: y_k = L(x_k) for every k >= 1.
template <class L>
void each_coefficient(const TaylorArgs& t, int input, Series& ys, L&& linear) {
  const SeriesView& x = t.x(input);
  if (x.zero()) return;
  ys.reserve(static_cast<std::size_t>(t.K));
  for (int k = 1; k <= t.K; ++k) ys.push_back(linear(x[k]));
}

// Σ_{j=lo..hi} a_j b_{k-j}   (a truncated Cauchy product; both views non-zero)
inline Tensor cauchy(const SeriesView& a, const SeriesView& b, int k, int lo, int hi) {
  Tensor acc = a[lo] * b[k - lo];
  for (int j = lo + 1; j <= hi; ++j) acc += a[j] * b[k - j];
  return acc;
}

// (1/k) Σ_{j=1..k} j x_j w_{k-j}: the coefficient k of y where y' = w x'.
inline Tensor ode_term(const SeriesView& x, const SeriesView& w, int k) {
  Tensor acc = x[1] * w[k - 1];
  for (int j = 2; j <= k; ++j) acc += (static_cast<double>(j) * x[j]) * w[k - j];
  if (k > 1) acc = acc * (1.0 / k);
  return acc;
}

// The series of y with y' = w(y) x', where w's coefficient k is computed from y_0..y_k by `w_of`
// (w_0 given). Used by exp, tan, tanh, sigmoid.
template <class W>
Series ode_series(const TaylorArgs& t, const SeriesView& x, const Tensor& y0, const Tensor& w0, W&& w_of) {
  Series ys, ws;
  ys.reserve(static_cast<std::size_t>(t.K));
  ws.reserve(static_cast<std::size_t>(t.K));
  const SeriesView y{&y0, &ys}, w{&w0, &ws};
  for (int k = 1; k <= t.K; ++k) {
    ys.push_back(ode_term(x, w, k));
    if (k < t.K) ws.push_back(w_of(y, k));
  }
  return ys;
}

// The series of a bilinear product m(a, b) (elementwise or matrix): y_k = Σ_{j=0..k} m(a_j, b_{k-j}),
// each term after the first added by add_m(acc, a_j, b_{k-j}) in place. Either factor may be a zero
// series; then only one term is left.
template <class M, class AddM>
Series bilinear_series(int K, const SeriesView& a, const SeriesView& b, M&& m, AddM&& add_m) {
  Series ys;
  if (a.zero() && b.zero()) return ys;
  ys.reserve(static_cast<std::size_t>(K));
  for (int k = 1; k <= K; ++k) {
    if (a.zero()) {
      ys.push_back(m(a[0], b[k]));
    } else if (b.zero()) {
      ys.push_back(m(a[k], b[0]));
    } else {
      Tensor acc = m(a[0], b[k]);
      for (int j = 1; j <= k; ++j) add_m(acc, a[j], b[k - j]);
      ys.push_back(std::move(acc));
    }
  }
  return ys;
}
// The elementwise case (acc += a_j ⊙ b_{k-j} fused: no product temporaries).
inline Series product_series(int K, const SeriesView& a, const SeriesView& b) {
  return bilinear_series(
      K, a, b, [](const Tensor& u, const Tensor& v) { return u * v; },
      [](Tensor& acc, const Tensor& u, const Tensor& v) { add_product(acc, u, v); });
}

// An input's series lifted to the output's rank (a copy only when the ranks differ).
struct LiftedInput {
  Series lifted;
  SeriesView view;
  LiftedInput(const SeriesView& x, int rank) : view(x) {
    if (x.zero() || x[1].rank() - 1 >= rank) return;
    lifted = lift(*x.series, rank);
    view.series = &lifted;
  }
};

// A coefficient of an input, made the full batched shape of the output.
inline Tensor to_output(const Tensor& coefficient, const Tensor& y0) {
  return broadcast_to(lift(coefficient, y0.rank()), batched(coefficient.shape()[0], y0.shape()));
}

// The series of exp(x) (y' = y x').
inline Series exp_series(const TaylorArgs& t, const SeriesView& x, const Tensor& y0) {
  Series ys;
  ys.reserve(static_cast<std::size_t>(t.K));
  const SeriesView y{&y0, &ys};
  for (int k = 1; k <= t.K; ++k) ys.push_back(ode_term(x, y, k));
  return ys;
}

// The pair (sin x, cos x) or (sinh x, cosh x): s' = c x', c' = sign · s x'.
inline void trig_pair_series(const TaylorArgs& t, const SeriesView& x, const Tensor& s0, const Tensor& c0,
                             double sign, Series& ss, Series& cs) {
  ss.reserve(static_cast<std::size_t>(t.K));
  cs.reserve(static_cast<std::size_t>(t.K));
  const SeriesView s{&s0, &ss}, c{&c0, &cs};
  for (int k = 1; k <= t.K; ++k) {
    Tensor sk = ode_term(x, c, k);
    Tensor ck = ode_term(x, s, k);
    ss.push_back(std::move(sk));
    cs.push_back(sign == 1.0 ? std::move(ck) : -ck);
  }
}

}  // namespace jetgrad::rules
