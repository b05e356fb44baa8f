// Reference implementations for the kernel tests: plain loops in double with explicit
// broadcasting index arithmetic. Nothing here calls a jetgrad kernel; only Tensor's element
// access (at / set) and construction are used.
#pragma once

#include <cmath>
#include <cstddef>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "autodiff/tensor.hpp"

namespace ref {

using jetgrad::DType;
using jetgrad::Shape;
using jetgrad::Tensor;

inline std::vector<std::size_t> dims(const Shape& s) { return s.to_vector(); }

inline std::size_t numel(const std::vector<std::size_t>& d) {
  std::size_t n = 1;
  for (std::size_t e : d) n *= e;
  return n;
}

// Row-major multi-index of a flat index.
inline std::vector<std::size_t> unravel(std::size_t flat, const std::vector<std::size_t>& d) {
  std::vector<std::size_t> idx(d.size());
  for (std::size_t i = d.size(); i-- > 0;) {
    idx[i] = flat % d[i];
    flat /= d[i];
  }
  return idx;
}

inline std::size_t ravel(const std::vector<std::size_t>& idx, const std::vector<std::size_t>& d) {
  std::size_t f = 0;
  for (std::size_t i = 0; i < d.size(); ++i) f = f * d[i] + idx[i];
  return f;
}

// NumPy broadcast of two dimension lists, written out independently of jetgrad::broadcast_shapes.
inline std::vector<std::size_t> broadcast(const std::vector<std::size_t>& a,
                                          const std::vector<std::size_t>& b) {
  const std::size_t r = std::max(a.size(), b.size());
  std::vector<std::size_t> out(r);
  for (std::size_t i = 0; i < r; ++i) {
    const std::size_t da = i + a.size() >= r ? a[i + a.size() - r] : 1;
    const std::size_t db = i + b.size() >= r ? b[i + b.size() - r] : 1;
    REQUIRE((da == db || da == 1 || db == 1));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

// Flat index into an operand of dims `d` for the output multi-index `out_idx` (right-aligned, extent-1 axes
// pinned to 0).
inline std::size_t source_index(const std::vector<std::size_t>& out_idx, const std::vector<std::size_t>& d) {
  std::vector<std::size_t> idx(d.size());
  const std::size_t off = out_idx.size() - d.size();
  for (std::size_t i = 0; i < d.size(); ++i) idx[i] = d[i] == 1 ? 0 : out_idx[i + off];
  return ravel(idx, d);
}

inline Tensor make(const std::vector<std::size_t>& d, DType dt = DType::f64) { return Tensor(dt, Shape(d)); }

// Uniform random values in [lo, hi), rounded to the dtype.
inline Tensor random(const Shape& s, DType dt, double lo, double hi, unsigned seed = 1) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  Tensor t(dt, s);
  for (std::size_t i = 0; i < t.numel(); ++i) t.set(i, u(gen));
  return t;
}

// f applied elementwise in double; the result is float64.
inline Tensor unary(const Tensor& x, const std::function<double(double)>& f) {
  Tensor out(DType::f64, x.shape());
  for (std::size_t i = 0; i < x.numel(); ++i) out.set(i, f(x.at(i)));
  return out;
}

inline Tensor binary(const Tensor& a, const Tensor& b, const std::function<double(double, double)>& f) {
  const auto da = dims(a.shape()), db = dims(b.shape());
  const auto d = broadcast(da, db);
  Tensor out = make(d);
  for (std::size_t i = 0; i < numel(d); ++i) {
    const auto idx = unravel(i, d);
    out.set(i, f(a.at(source_index(idx, da)), b.at(source_index(idx, db))));
  }
  return out;
}

inline Tensor ternary(const Tensor& a, const Tensor& b, const Tensor& c,
                      const std::function<double(double, double, double)>& f) {
  const auto da = dims(a.shape()), db = dims(b.shape()), dc = dims(c.shape());
  const auto d = broadcast(broadcast(da, db), dc);
  Tensor out = make(d);
  for (std::size_t i = 0; i < numel(d); ++i) {
    const auto idx = unravel(i, d);
    out.set(i, f(a.at(source_index(idx, da)), b.at(source_index(idx, db)), c.at(source_index(idx, dc))));
  }
  return out;
}

// Folds `axis` of x with f starting from init (in double); the result has the axis removed
// (or kept with extent 1).
inline Tensor reduce(const Tensor& x, int axis, bool keepdims, double init,
                     const std::function<double(double, double)>& f) {
  const auto d = dims(x.shape());
  const auto ax = static_cast<std::size_t>(axis < 0 ? axis + static_cast<int>(d.size()) : axis);
  std::vector<std::size_t> od;
  for (std::size_t i = 0; i < d.size(); ++i)
    if (i != ax) od.push_back(d[i]);
  Tensor out = make(od);
  for (std::size_t i = 0; i < numel(od); ++i) {
    auto oidx = unravel(i, od);
    oidx.insert(oidx.begin() + static_cast<std::ptrdiff_t>(ax), 0);
    double acc = init;
    for (std::size_t j = 0; j < d[ax]; ++j) {
      oidx[ax] = j;
      acc = f(acc, x.at(ravel(oidx, d)));
    }
    out.set(i, acc);
  }
  if (keepdims) {
    std::vector<std::size_t> kd = d;
    kd[ax] = 1;
    return out.reshape(Shape(kd));
  }
  return out;
}

inline double reduce_all(const Tensor& x, double init, const std::function<double(double, double)>& f) {
  double acc = init;
  for (std::size_t i = 0; i < x.numel(); ++i) acc = f(acc, x.at(i));
  return acc;
}

// Naive matmul of two 2-D tensors given as (m, k) and (k, n) element accessors.
inline std::vector<double> matmul2d(const std::vector<double>& a, const std::vector<double>& b, std::size_t m,
                                    std::size_t k, std::size_t n) {
  std::vector<double> c(m * n, 0.0);
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      double s = 0;
      for (std::size_t p = 0; p < k; ++p) s += a[i * k + p] * b[p * n + j];
      c[i * n + j] = s;
    }
  return c;
}

inline std::vector<double> values(const Tensor& t) {
  std::vector<double> v(t.numel());
  for (std::size_t i = 0; i < t.numel(); ++i) v[i] = t.at(i);
  return v;
}

struct Tol {
  double rtol, atol;
};
inline Tol tol_for(DType dt, double scale = 1.0) {
  return dt == DType::f32 ? Tol{2e-5 * scale, 2e-6 * scale} : Tol{1e-12 * scale, 1e-13 * scale};
}

// Every element of `actual` within atol + rtol |expected| of `expected` (same shape required);
// NaN matches NaN and infinities match equal infinities. Reports the first mismatch.
inline void require_close(const Tensor& actual, const Tensor& expected, Tol tol) {
  INFO("actual shape " << actual.shape().str() << ", expected shape " << expected.shape().str());
  REQUIRE(actual.shape() == expected.shape());
  for (std::size_t i = 0; i < expected.numel(); ++i) {
    const double a = actual.at(i), e = expected.at(i);
    if (std::isnan(e) && std::isnan(a)) continue;
    if (a == e) continue;
    const bool ok = std::fabs(a - e) <= tol.atol + tol.rtol * std::fabs(e);
    if (!ok) {
      INFO("element " << i << ": got " << a << ", expected " << e);
      REQUIRE(ok);
    }
  }
}

inline std::string name(DType dt) { return dt == DType::f32 ? "float32" : "float64"; }

}  // namespace ref
