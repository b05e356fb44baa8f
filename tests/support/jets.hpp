// Test references for the Taylor-mode tests, independent of jetgrad's Taylor rules:
//  - jet::Jet, a tiny scalar truncated-Taylor arithmetic in long double. Every nonlinear function
//    is applied by composition, f(a0 + h) = Σ_m f^(m)(a0)/m! h^m with h = a - a0 (h has no
//    constant term, so the sum stops at m = K), from closed-form derivatives. It shares nothing
//    with jetgrad's ODE recurrences except the Cauchy product of two polynomials.
//  - nested_reverse: c_k of g(t) = ⟨w, f(x + t v)⟩ by k nested reverse sweeps with respect to a
//    0-d variable t (Tape::gradient_vars), c_k = g^(k)(0)/k!.
//  - check_jvp_vjp: ⟨J v, w⟩ (Taylor sweep at K = 1) against ⟨v, Jᵀ w⟩ (reverse sweep), plus an
//    optional central difference of f along v, which uses no derivative rule at all.
#pragma once

#include <cmath>
#include <cstddef>
#include <functional>
#include <numbers>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

#include "autodiff/autodiff.hpp"

namespace jet {

using L = long double;

struct Jet {
  std::vector<L> c;  // c[0..K]
  int K() const { return static_cast<int>(c.size()) - 1; }
};

inline Jet variable(L x0, L v, int K) {
  Jet j{std::vector<L>(static_cast<std::size_t>(K) + 1, 0.0L)};
  j.c[0] = x0;
  if (K >= 1) j.c[1] = v;
  return j;
}
inline Jet constant(L a, int K) { return variable(a, 0.0L, K); }

inline Jet operator+(Jet a, const Jet& b) {
  for (std::size_t k = 0; k < a.c.size(); ++k) a.c[k] += b.c[k];
  return a;
}
inline Jet operator-(Jet a, const Jet& b) {
  for (std::size_t k = 0; k < a.c.size(); ++k) a.c[k] -= b.c[k];
  return a;
}
inline Jet operator*(L s, Jet a) {
  for (L& x : a.c) x *= s;
  return a;
}
inline Jet operator+(L s, Jet a) {
  a.c[0] += s;
  return a;
}
inline Jet operator-(const Jet& a) { return -1.0L * a; }
inline Jet operator*(const Jet& a, const Jet& b) {
  Jet r{std::vector<L>(a.c.size(), 0.0L)};
  for (std::size_t k = 0; k < a.c.size(); ++k)
    for (std::size_t j = 0; j <= k; ++j) r.c[k] += a.c[j] * b.c[k - j];
  return r;
}

// f(a) from f's derivatives d[m] = f^(m)(a0), m = 0..K.
inline Jet compose(const Jet& a, const std::vector<L>& d) {
  const int K = a.K();
  Jet h = a;
  h.c[0] = 0.0L;
  Jet power = constant(1.0L, K);
  Jet r = constant(0.0L, K);
  L factorial = 1.0L;
  for (int m = 0; m <= K; ++m) {
    if (m > 0) {
      power = power * h;
      factorial *= m;
    }
    r = r + (d[static_cast<std::size_t>(m)] / factorial) * power;
  }
  return r;
}

template <class F>
std::vector<L> derivs(int K, F&& f) {
  std::vector<L> d(static_cast<std::size_t>(K) + 1);
  for (int m = 0; m <= K; ++m) d[static_cast<std::size_t>(m)] = f(m);
  return d;
}

inline Jet exp(const Jet& a) {
  const L e = std::exp(a.c[0]);
  return compose(a, derivs(a.K(), [&](int) { return e; }));
}
inline Jet log(const Jet& a) {  // (log)^(m) = (-1)^(m-1) (m-1)! / a^m
  const L a0 = a.c[0];
  return compose(a, derivs(a.K(), [&](int m) {
                   if (m == 0) return std::log(a0);
                   L f = 1.0L;
                   for (int i = 2; i < m; ++i) f *= i;
                   return (m % 2 == 1 ? f : -f) / std::pow(a0, static_cast<L>(m));
                 }));
}
inline Jet sin(const Jet& a) {  // sin^(m) = sin(a + mπ/2)
  const L s = std::sin(a.c[0]), c = std::cos(a.c[0]);
  return compose(a, derivs(a.K(), [&](int m) {
                   const L cycle[4] = {s, c, -s, -c};
                   return cycle[m % 4];
                 }));
}
inline Jet cos(const Jet& a) {
  const L s = std::sin(a.c[0]), c = std::cos(a.c[0]);
  return compose(a, derivs(a.K(), [&](int m) {
                   const L cycle[4] = {c, -s, -c, s};
                   return cycle[m % 4];
                 }));
}
inline Jet sinh(const Jet& a) {
  const L s = std::sinh(a.c[0]), c = std::cosh(a.c[0]);
  return compose(a, derivs(a.K(), [&](int m) { return m % 2 == 0 ? s : c; }));
}
inline Jet cosh(const Jet& a) {
  const L s = std::sinh(a.c[0]), c = std::cosh(a.c[0]);
  return compose(a, derivs(a.K(), [&](int m) { return m % 2 == 0 ? c : s; }));
}
inline Jet pow(const Jet& a, L p) {  // (x^p)^(m) = p (p-1) ... (p-m+1) x^(p-m)
  const L a0 = a.c[0];
  return compose(a, derivs(a.K(), [&](int m) {
                   L f = 1.0L;
                   for (int i = 0; i < m; ++i) f *= p - i;
                   return f == 0.0L ? 0.0L : f * std::pow(a0, p - m);
                 }));
}
inline Jet recip(const Jet& a) { return pow(a, -1.0L); }
inline Jet operator/(const Jet& a, const Jet& b) { return a * recip(b); }
inline Jet sqrt(const Jet& a) { return pow(a, 0.5L); }
inline Jet tanh(const Jet& a) { return sinh(a) / cosh(a); }
inline Jet tan(const Jet& a) { return sin(a) / cos(a); }
inline Jet sigmoid(const Jet& a) { return recip(1.0L + exp(-a)); }
inline Jet softplus(const Jet& a) { return log(1.0L + exp(a)); }
// erf^(m) = (2/√π) (-1)^(m-1) H_{m-1}(x) e^(-x²), H the physicists' Hermite polynomials.
inline Jet erf(const Jet& a) {
  const L x = a.c[0];
  const int K = a.K();
  std::vector<L> H(static_cast<std::size_t>(K) + 1);
  H[0] = 1.0L;
  if (K >= 1) H[1] = 2.0L * x;
  for (int n = 1; n + 1 <= K; ++n)
    H[static_cast<std::size_t>(n + 1)] =
        2.0L * x * H[static_cast<std::size_t>(n)] - 2.0L * n * H[static_cast<std::size_t>(n - 1)];
  const L scale = 2.0L / std::sqrt(std::numbers::pi_v<L>) * std::exp(-x * x);
  return compose(a, derivs(K, [&](int m) {
                   if (m == 0) return std::erf(x);
                   const L h = H[static_cast<std::size_t>(m - 1)];
                   return (m % 2 == 1 ? 1.0L : -1.0L) * scale * h;
                 }));
}

}  // namespace jet

namespace taylor_support {

using namespace jetgrad;
using VarFn = std::function<Var(const std::vector<Var>&)>;

inline Tensor random(const Shape& s, double lo, double hi, unsigned seed, DType dt = DType::f64) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  Tensor t(dt, s);
  for (std::size_t i = 0; i < t.numel(); ++i) t.set(i, u(gen));
  return t;
}

inline Shape with_lead(std::size_t D, const Shape& s) {
  Shape b{D};
  for (std::size_t d : s) b.push_back(d);
  return b;
}

// Row d of a [D] + s tensor, as a tensor of shape s.
inline Tensor row(const Tensor& batch, std::size_t d) {
  Shape s;
  for (int i = 1; i < batch.rank(); ++i) s.push_back(batch.shape()[i]);
  Tensor r(batch.dtype(), s);
  for (std::size_t i = 0; i < r.numel(); ++i) r.set(i, batch.at(d * r.numel() + i));
  return r;
}

inline double dot(const Tensor& a, const Tensor& b) {
  REQUIRE(a.numel() == b.numel());
  double s = 0;
  for (std::size_t i = 0; i < a.numel(); ++i) s += a.at(i) * b.at(i);
  return s;
}
inline double abs_dot(const Tensor& a, const Tensor& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.numel(); ++i) s += std::fabs(a.at(i) * b.at(i));
  return s;
}

// c_0..c_K of g(t) = ⟨w, f(x_i + t v_i)⟩ at t = 0 by K nested reverse sweeps (double).
inline std::vector<double> nested_reverse(const VarFn& f, const std::vector<Tensor>& xs,
                                          const std::vector<Tensor>& vs, const Tensor& w, int K) {
  Tape tape;
  const Var t = tape.variable(Tensor(0.0, xs[0].dtype()));
  std::vector<Var> args;
  for (std::size_t i = 0; i < xs.size(); ++i) args.push_back(tape.constant(xs[i]) + t * vs[i]);
  Var d = sum(f(args) * w);
  std::vector<double> c{d.item()};
  double factorial = 1.0;
  const Var wrt[] = {t};
  for (int k = 1; k <= K; ++k) {
    d = tape.gradient_vars(d, wrt)[0];
    factorial *= k;
    c.push_back(d.item() / factorial);
  }
  return c;
}

// The Taylor sweep through f at xs along single directions vs (D = 1): coefficients y_0..y_K,
// each of shape(y).
inline std::vector<Tensor> taylor_multi(const VarFn& f, const std::vector<Tensor>& xs,
                                        const std::vector<Tensor>& vs, int K) {
  Tape tape;
  std::vector<Var> vars;
  std::vector<Tensor> dirs;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    vars.push_back(tape.variable(xs[i]));
    dirs.push_back(reshape(vs[i], with_lead(1, xs[i].shape())));
  }
  const Var y = f(vars);
  const Var outs[] = {y};
  std::vector<Tensor> c = tape.taylor(outs, vars, dirs, K)[0];
  for (std::size_t k = 1; k < c.size(); ++k) {
    CHECK(c[k].shape() == with_lead(1, y.shape()));
    c[k] = reshape(c[k], y.shape());
  }
  return c;
}

// ⟨w, c_k⟩ of the Taylor sweep against nested reverse mode, k = 0..K. Tolerance: both sides
// accumulate rounding of size ~ε per operation relative to the magnitudes involved, so the
// comparison is relative to max(1, |c_k|) (all test functions have O(1) coefficients).
inline void check_against_nested_reverse(const VarFn& f, const std::vector<Tensor>& xs, int K, unsigned seed,
                                         double tol = 1e-11) {
  std::vector<Tensor> vs;
  for (std::size_t i = 0; i < xs.size(); ++i)
    vs.push_back(random(xs[i].shape(), -1.0, 1.0, seed + 17 * static_cast<unsigned>(i)));
  const std::vector<Tensor> c = taylor_multi(f, xs, vs, K);
  const Tensor w = random(c[0].shape(), -1.0, 1.0, seed + 101);
  const std::vector<double> ref = nested_reverse(f, xs, vs, w, K);
  for (int k = 0; k <= K; ++k) {
    const double got = dot(c[static_cast<std::size_t>(k)], w);
    const double want = ref[static_cast<std::size_t>(k)];
    INFO("coefficient k = " << k << ": Taylor " << got << ", nested reverse " << want);
    CHECK(std::fabs(got - want) <= tol * std::max(1.0, std::fabs(want)));
  }
}

// ⟨J v, w⟩ from the Taylor sweep at K = 1 against ⟨v, Jᵀ w⟩ from the reverse sweep, for D
// directions at once (each of the D rows checked with its own cotangent). Both sides are sums
// of the same products computed by different arithmetic, so they agree to ~n ε Σ|terms|:
// `tol` is relative to Σ|terms|. With fd, also a central difference of f along v (h = 1e-5,
// truncation ~h² f''' ~ 1e-10, cancellation ~ε/h ~ 1e-11) to 1e-7 relative, which no derivative
// rule enters.
inline void check_jvp_vjp(const VarFn& f, const std::vector<Tensor>& xs, unsigned seed, bool fd = true,
                          std::size_t D = 2, double tol = 1e-12) {
  Tape tape;
  std::vector<Var> vars;
  std::vector<Tensor> dirs;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    vars.push_back(tape.variable(xs[i]));
    dirs.push_back(
        random(with_lead(D, xs[i].shape()), -1.0, 1.0, seed + 31 * static_cast<unsigned>(i), xs[i].dtype()));
  }
  const Var y = f(vars);
  const Var outs[] = {y};
  const std::vector<Tensor> c = tape.taylor(outs, vars, dirs, 1)[0];
  REQUIRE(c.size() == 2);
  REQUIRE(c[0].shape() == y.shape());
  INFO("JVP shape " << c[1].shape().str() << ", expected [D] + " << y.shape().str());
  CHECK(c[1].shape() == with_lead(D, y.shape()));
  if (!(c[1].shape() == with_lead(D, y.shape()))) return;
  for (std::size_t d = 0; d < D; ++d) {
    const Tensor jv = row(c[1], d);
    const Tensor w = random(y.shape(), -1.0, 1.0, seed + 1000 + static_cast<unsigned>(d), y.dtype());
    const std::vector<Tensor> g = tape.vjp(y, w, vars);
    double forward = dot(jv, w), reverse = 0.0, scale = abs_dot(jv, w);
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const Tensor v = row(dirs[i], d);
      reverse += dot(v, g[i]);
      scale += abs_dot(v, g[i]);
    }
    INFO("direction " << d << ": <Jv, w> = " << forward << ", <v, J^T w> = " << reverse);
    CHECK(std::fabs(forward - reverse) <= tol * std::max(scale, 1e-300));
    if (fd) {
      const double h = 1e-5;
      auto at = [&](double s) {
        Tape t2;
        std::vector<Var> shifted;
        for (std::size_t i = 0; i < xs.size(); ++i)
          shifted.push_back(t2.variable(xs[i] + s * row(dirs[i], d)));
        return f(shifted).value();
      };
      const Tensor numeric = (at(h) - at(-h)) * (1.0 / (2 * h));
      for (std::size_t j = 0; j < jv.numel(); ++j) {
        INFO("element " << j << ": JVP " << jv.at(j) << ", central difference " << numeric.at(j));
        CHECK(std::fabs(jv.at(j) - numeric.at(j)) <= 1e-7 * std::max(1.0, std::fabs(numeric.at(j))));
      }
    }
  }
}

}  // namespace taylor_support
