// Reductions with their own xsimd kernels, softmax and log_softmax.
//
// A reduction along `axis` views the tensor as (outer, n, inner), n the reduced extent:
//  - inner == 1: each of the `outer` rows is one contiguous run, reduced with four batch
//    accumulators (then a horizontal reduction of the lanes);
//  - inner > 1: rows of `inner` elements are combined into the output row, a batch at a time.
// Reducing all elements is the (1, numel, 1) case. Floats accumulate in float lanes (the
// reordering of additions is what makes the sum vectorizable). max and min propagate NaN as NumPy.
// GCC 12 warns about _mm512_undefined_* inside its own AVX-512 intrinsic headers (GCC bug 105593);
// the pragmas cover only the included headers' lines, not this file's code.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "autodiff/kernels/simd.hpp"
#ifdef __AVX512F__
#include <immintrin.h>
#endif
#include "autodiff/kernels/strided.hpp"
#include "autodiff/tensor_ops.hpp"
#pragma GCC diagnostic pop

namespace jetgrad {

namespace {

using detail::Batch;
using detail::load_partial;
using detail::simd_width;
using detail::store_partial;

struct SumR {
  static constexpr double identity = 0.0;
  template <class B>
  B operator()(const B& a, const B& b) const {
    return a + b;
  }
};
struct ProdR {
  static constexpr double identity = 1.0;
  template <class B>
  B operator()(const B& a, const B& b) const {
    return a * b;
  }
};
struct MaxR {
  static constexpr double identity = -std::numeric_limits<double>::infinity();
  template <class B>
  B operator()(const B& a, const B& b) const {
    return xsimd::select(xsimd::isnan(a) | xsimd::isnan(b), a + b, xsimd::max(a, b));
  }
};
struct MinR {
  static constexpr double identity = std::numeric_limits<double>::infinity();
  template <class B>
  B operator()(const B& a, const B& b) const {
    return xsimd::select(xsimd::isnan(a) | xsimd::isnan(b), a + b, xsimd::min(a, b));
  }
};

template <class T, class R>
T combine_scalar(T a, T b, const R& r) {
  // A one-element batch operation keeps the scalar and vector semantics identical.
  return r(Batch<T>(a), Batch<T>(b)).get(0);
}

template <class T, class R>
T reduce_contiguous(const T* p, std::size_t n, const R& r) {
  using B = Batch<T>;
  constexpr std::size_t W = simd_width<T>;
  const T id = static_cast<T>(R::identity);
  B acc0(id), acc1(id), acc2(id), acc3(id);
  std::size_t i = 0;
  for (; i + 4 * W <= n; i += 4 * W) {
    acc0 = r(acc0, B::load_unaligned(p + i));
    acc1 = r(acc1, B::load_unaligned(p + i + W));
    acc2 = r(acc2, B::load_unaligned(p + i + 2 * W));
    acc3 = r(acc3, B::load_unaligned(p + i + 3 * W));
  }
  for (; i + W <= n; i += W) acc0 = r(acc0, B::load_unaligned(p + i));
  if (i < n) acc1 = r(acc1, load_partial(p + i, n - i, id));
  acc0 = r(r(acc0, acc1), r(acc2, acc3));
  alignas(64) T lanes[W];
  acc0.store_aligned(lanes);
  T s = lanes[0];
  for (std::size_t k = 1; k < W; ++k) s = combine_scalar(s, lanes[k], r);
  return s;
}

template <class T, class R>
void reduce_kernel(const T* x, T* out, std::size_t outer, std::size_t n, std::size_t inner, const R& r) {
  using B = Batch<T>;
  constexpr std::size_t W = simd_width<T>;
  const T id = static_cast<T>(R::identity);
  if (inner == 1) {
    for (std::size_t o = 0; o < outer; ++o) out[o] = reduce_contiguous(x + o * n, n, r);
    return;
  }
  for (std::size_t o = 0; o < outer; ++o) {
    T* dst = out + o * inner;
    std::fill(dst, dst + inner, id);
    for (std::size_t j = 0; j < n; ++j) {
      const T* row = x + (o * n + j) * inner;
      std::size_t i = 0;
      for (; i + W <= inner; i += W)
        r(B::load_unaligned(dst + i), B::load_unaligned(row + i)).store_unaligned(dst + i);
      if (i < inner) {
        if (inner - i >= W / 2) {
          store_partial(dst + i, inner - i,
                        r(load_partial(dst + i, inner - i, id), load_partial(row + i, inner - i, id)));
        } else {
          for (; i < inner; ++i) dst[i] = combine_scalar(dst[i], row[i], r);
        }
      }
    }
  }
}

using detail::Extents;
using detail::extents;

[[noreturn]] void throw_empty(const char* name, const Shape& s, int ax) {
  if (ax < 0)
    throw ValueError(std::string(name) + ": cannot reduce an empty tensor of shape " + s.str() +
                     " (the operation has no identity)");
  throw ValueError(std::string(name) + ": cannot reduce axis " + std::to_string(ax) + " of shape " + s.str() +
                   ", which is empty (the operation has no identity)");
}

template <class R>
Tensor reduce_axis(const Tensor& x, int axis, bool keepdims, const char* name, const R& r, bool empty_ok) {
  const int ax = normalize_axis(axis, x.rank(), name);
  const Extents e = extents(x.shape(), ax);
  if (e.n == 0 && !empty_ok) throw_empty(name, x.shape(), ax);
  Tensor out;
  out.resize(reduced_shape(x.shape(), ax, keepdims), x.dtype());
  dispatch_dtype(x.dtype(), [&](auto z) {
    using T = decltype(z);
    reduce_kernel<T>(x.data<T>(), out.data<T>(), e.outer, e.n, e.inner, r);
  });
  return out;
}

template <class R>
Tensor reduce_all(const Tensor& x, const char* name, const R& r, bool empty_ok) {
  if (x.numel() == 0 && !empty_ok) throw_empty(name, x.shape(), -1);
  Tensor out;
  out.resize(Shape{}, x.dtype());
  dispatch_dtype(x.dtype(), [&](auto z) {
    using T = decltype(z);
    out.data<T>()[0] = reduce_contiguous(x.data<T>(), x.numel(), r);
  });
  return out;
}

void scale_inplace(Tensor& t, std::size_t n) {
  dispatch_dtype(t.dtype(), [&](auto z) {
    using T = decltype(z);
    T* p = t.data<T>();
    const T d = static_cast<T>(n);
    for (std::size_t i = 0; i < t.numel(); ++i) p[i] /= d;
  });
}

// The shift for max-shifted exponentials: the max, with non-finite entries replaced by 0
// (so that all -inf gives exp(-inf) = 0 and +inf gives inf, instead of inf - inf).
Tensor finite_shift(Tensor m) {
  dispatch_dtype(m.dtype(), [&](auto z) {
    using T = decltype(z);
    T* p = m.data<T>();
    for (std::size_t i = 0; i < m.numel(); ++i)
      if (!std::isfinite(p[i])) p[i] = T(0);
  });
  return m;
}

// First index along the axis holding the maximum (or the first NaN), as float64.
Tensor argmax_impl(const Tensor& x, int ax, bool keepdims, const Shape& out_shape) {
  const Extents e = extents(x.shape(), ax);
  const Tensor m = reduce_axis(x, ax, true, "argmax", MaxR{}, false);
  Tensor out(DType::f64, out_shape);
  double* po = out.data<double>();
  (void)keepdims;
  dispatch_dtype(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* px = x.data<T>();
    const T* pm = m.data<T>();
    std::vector<std::size_t> found(e.inner);
    for (std::size_t o = 0; o < e.outer; ++o) {
      std::fill(found.begin(), found.end(), e.n);
      const T* mrow = pm + o * e.inner;
      for (std::size_t j = 0; j < e.n; ++j) {
        const T* row = px + (o * e.n + j) * e.inner;
        for (std::size_t i = 0; i < e.inner; ++i) {
          if (found[i] != e.n) continue;
          const bool hit = std::isnan(mrow[i]) ? std::isnan(row[i]) : row[i] == mrow[i];
          if (hit) found[i] = j;
        }
      }
      for (std::size_t i = 0; i < e.inner; ++i) po[o * e.inner + i] = static_cast<double>(found[i]);
    }
  });
  return out;
}

// Fused, max-shifted softmax / log_softmax over the (outer, n, inner) view: one output buffer and
// no temporaries the size of x. With s = sum(exp(x - m)): softmax = exp(x - m) / s,
// log_softmax = (x - m) - log(s).
template <bool Log, class T>
void softmax_kernel(const T* x, T* out, std::size_t outer, std::size_t n, std::size_t inner) {
  using B = Batch<T>;
  constexpr std::size_t W = simd_width<T>;
  const T ninf = -std::numeric_limits<T>::infinity();
  auto finite_or_zero = [](T v) { return std::isfinite(v) ? v : T(0); };
  if (inner == 1) {
    for (std::size_t o = 0; o < outer; ++o) {
      const T* p = x + o * n;
      T* q = out + o * n;
      const B vm(finite_or_zero(reduce_contiguous(p, n, MaxR{})));
      B acc(T(0));
      std::size_t i = 0;
      for (; i + W <= n; i += W) {
        const B e = xsimd::exp(B::load_unaligned(p + i) - vm);
        if constexpr (!Log) e.store_unaligned(q + i);
        acc += e;
      }
      if (i < n) {
        const B e = xsimd::exp(load_partial(p + i, n - i, ninf) - vm);  // padding adds exp(-inf) = 0
        if constexpr (!Log) store_partial(q + i, n - i, e);
        acc += e;
      }
      const T total = xsimd::hadd(acc);
      if constexpr (Log) {
        const B ls(std::log(total));
        for (i = 0; i + W <= n; i += W) ((B::load_unaligned(p + i) - vm) - ls).store_unaligned(q + i);
        if (i < n) store_partial(q + i, n - i, (load_partial(p + i, n - i, T(0)) - vm) - ls);
      } else {
        const B r(T(1) / total);
        for (i = 0; i + W <= n; i += W) (B::load_unaligned(q + i) * r).store_unaligned(q + i);
        if (i < n) store_partial(q + i, n - i, load_partial(q + i, n - i, T(0)) * r);
      }
    }
    return;
  }
  std::vector<T> m(inner), s(inner);
  // Applies f(batch index i, count) over [0, inner) in batches, the tail through a partial batch.
  auto over_inner = [&](auto&& f) {
    std::size_t i = 0;
    for (; i + W <= inner; i += W) f(i, W);
    if (i < inner) f(i, inner - i);
  };
  auto ld = [](const T* p, std::size_t c) {
    return c == W ? B::load_unaligned(p) : load_partial(p, c, T(0));
  };
  auto st = [](T* p, std::size_t c, const B& v) {
    if (c == W)
      v.store_unaligned(p);
    else
      store_partial(p, c, v);
  };
  for (std::size_t o = 0; o < outer; ++o) {
    const T* xo = x + o * n * inner;
    T* qo = out + o * n * inner;
    reduce_kernel<T>(xo, m.data(), 1, n, inner, MaxR{});
    for (T& v : m) v = finite_or_zero(v);
    std::fill(s.begin(), s.end(), T(0));
    for (std::size_t j = 0; j < n; ++j) {
      const T* row = xo + j * inner;
      T* dst = qo + j * inner;
      over_inner([&](std::size_t i, std::size_t c) {
        const B e = xsimd::exp(ld(row + i, c) - ld(m.data() + i, c));
        if constexpr (!Log) st(dst + i, c, e);
        st(s.data() + i, c, ld(s.data() + i, c) + e);
      });
    }
    for (T& v : s) v = Log ? std::log(v) : T(1) / v;
    for (std::size_t j = 0; j < n; ++j) {
      const T* row = xo + j * inner;
      T* dst = qo + j * inner;
      over_inner([&](std::size_t i, std::size_t c) {
        if constexpr (Log)
          st(dst + i, c, (ld(row + i, c) - ld(m.data() + i, c)) - ld(s.data() + i, c));
        else
          st(dst + i, c, ld(dst + i, c) * ld(s.data() + i, c));
      });
    }
  }
}

template <bool Log>
Tensor softmax_impl(const Tensor& x, int axis, const char* name) {
  const int ax = normalize_axis(axis, x.rank(), name);
  Tensor out;
  out.resize(x.shape(), x.dtype());
  if (x.numel() == 0) return out;
  const Extents e = extents(x.shape(), ax);
  dispatch_dtype(x.dtype(), [&](auto z) {
    using T = decltype(z);
    softmax_kernel<Log, T>(x.data<T>(), out.data<T>(), e.outer, e.n, e.inner);
  });
  return out;
}

// Σ x_i y_i in double, with 8 independent partial sums. A float product is exact in double, so
// only the sums round.
template <class T, class U>
double dot_f64_scalar(const T* x, const U* y, std::size_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (std::size_t k = 0; k < 8; ++k)
      acc[k] += static_cast<double>(x[i + k]) * static_cast<double>(y[i + k]);
  for (; i < n; ++i) acc[0] += static_cast<double>(x[i]) * static_cast<double>(y[i]);
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

#ifdef __AVX512F__
// The same in AVX-512 lanes (intrinsics: xsimd 8 has no widening float-to-double conversion).
inline __m512d load_f64x8(const double* p) { return _mm512_loadu_pd(p); }
inline __m512d load_f64x8(const float* p) { return _mm512_cvtps_pd(_mm256_loadu_ps(p)); }

// Square: y is x (a squared norm), widened once per element.
template <bool Square, class T, class U>
double dot_f64_lanes(const T* x, const U* y, std::size_t n) {
  __m512d acc[4] = {_mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd()};
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (std::size_t k = 0; k < 4; ++k) {
      const __m512d a = load_f64x8(x + i + 8 * k);
      acc[k] = _mm512_fmadd_pd(a, Square ? a : load_f64x8(y + i + 8 * k), acc[k]);
    }
  }
  const __m512d total = _mm512_add_pd(_mm512_add_pd(acc[0], acc[1]), _mm512_add_pd(acc[2], acc[3]));
  return _mm512_reduce_add_pd(total) + dot_f64_scalar(x + i, y + i, n - i);
}

template <class T, class U>
double dot_f64_kernel(const T* x, const U* y, std::size_t n) {
  if constexpr (std::is_same_v<T, U>) {
    if (x == y) return dot_f64_lanes<true>(x, y, n);
  }
  return dot_f64_lanes<false>(x, y, n);
}
#else
template <class T, class U>
double dot_f64_kernel(const T* x, const U* y, std::size_t n) {
  return dot_f64_scalar(x, y, n);
}
#endif

}  // namespace

double dot_f64(const Tensor& a, const Tensor& b) {
  if (a.numel() != b.numel()) {
    throw ShapeError("dot_f64: " + std::to_string(a.numel()) + " and " + std::to_string(b.numel()) +
                     " elements (shapes " + a.shape().str() + " and " + b.shape().str() + ")");
  }
  double result = 0.0;
  dispatch_dtype(a.dtype(), [&](auto za) {
    dispatch_dtype(b.dtype(), [&](auto zb) {
      result = dot_f64_kernel(a.data<decltype(za)>(), b.data<decltype(zb)>(), a.numel());
    });
  });
  return result;
}

Tensor sum(const Tensor& x) { return reduce_all(x, "sum", SumR{}, true); }
Tensor sum(const Tensor& x, int axis, bool keepdims) {
  return reduce_axis(x, axis, keepdims, "sum", SumR{}, true);
}
Tensor prod(const Tensor& x) { return reduce_all(x, "prod", ProdR{}, true); }
Tensor prod(const Tensor& x, int axis, bool keepdims) {
  return reduce_axis(x, axis, keepdims, "prod", ProdR{}, true);
}
Tensor max(const Tensor& x) { return reduce_all(x, "max", MaxR{}, false); }
Tensor max(const Tensor& x, int axis, bool keepdims) {
  return reduce_axis(x, axis, keepdims, "max", MaxR{}, false);
}
Tensor min(const Tensor& x) { return reduce_all(x, "min", MinR{}, false); }
Tensor min(const Tensor& x, int axis, bool keepdims) {
  return reduce_axis(x, axis, keepdims, "min", MinR{}, false);
}

// The mean of no elements is NaN (0 / 0), as in NumPy.
Tensor mean(const Tensor& x) {
  Tensor s = sum(x);
  scale_inplace(s, x.numel());
  return s;
}
Tensor mean(const Tensor& x, int axis, bool keepdims) {
  const int ax = normalize_axis(axis, x.rank(), "mean");
  Tensor s = sum(x, ax, keepdims);
  scale_inplace(s, x.shape()[ax]);
  return s;
}

// log(sum(exp(x))) = m + log(sum(exp(x - m))); the log of no elements is -inf.
Tensor logsumexp(const Tensor& x, int axis, bool keepdims) {
  const int ax = normalize_axis(axis, x.rank(), "logsumexp");
  const Shape out_shape = reduced_shape(x.shape(), ax, keepdims);
  if (x.shape()[ax] == 0) return Tensor::full(out_shape, -std::numeric_limits<double>::infinity(), x.dtype());
  const Tensor shift = finite_shift(max(x, ax, true));
  Tensor r = log(sum(exp(x - shift), ax, true)) + shift;
  return r.reshape(out_shape);
}
Tensor logsumexp(const Tensor& x) {
  if (x.numel() == 0) return Tensor::full(Shape{}, -std::numeric_limits<double>::infinity(), x.dtype());
  return logsumexp(x.reshape(Shape{x.numel()}), 0, false);
}

Tensor argmax(const Tensor& x) {
  if (x.numel() == 0) throw_empty("argmax", x.shape(), -1);
  return argmax_impl(x.reshape(Shape{x.numel()}), 0, false, Shape{});
}
Tensor argmax(const Tensor& x, int axis, bool keepdims) {
  const int ax = normalize_axis(axis, x.rank(), "argmax");
  return argmax_impl(x, ax, keepdims, reduced_shape(x.shape(), ax, keepdims));
}

Tensor softmax(const Tensor& x, int axis) { return softmax_impl<false>(x, axis, "softmax"); }

Tensor log_softmax(const Tensor& x, int axis) { return softmax_impl<true>(x, axis, "log_softmax"); }

}  // namespace jetgrad
