// Elementwise kernels: unary maths, broadcasting binary ops, comparisons, where, clamp.
//
// Every op is written once, as a function object over xsimd batches; the same code handles the
// tail of an array (through a padded batch), so a tensor's elements never depend on where they sit
// relative to the SIMD width. Binary ops take one of three paths: same shape (one contiguous
// loop), a one-element operand (broadcast register), or the general broadcast plan
// (kernels/strided.hpp) whose innermost rows again use the contiguous or register kernels --
// so `x * W + b` with b a row vector runs at contiguous speed row by row.
// GCC 12 warns about _mm512_undefined_* inside its own AVX-512 intrinsic headers (GCC bug 105593);
// the pragmas cover only the included headers' lines, not this file's code.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <cmath>
#include <string>
#include <utility>

#include "autodiff/kernels/simd.hpp"
#include "autodiff/kernels/strided.hpp"
#include "autodiff/tensor_ops.hpp"
#pragma GCC diagnostic pop

namespace jetgrad {

namespace {

using detail::Batch;
using detail::load_partial;
using detail::simd_width;
using detail::store_partial;

template <class B>
using value_of = typename B::value_type;

// ---- unary function objects ----------------------------------------------------------------------
struct Neg {
  template <class B>
  B operator()(const B& x) const {
    return -x;
  }
};
struct Exp {
  template <class B>
  B operator()(const B& x) const {
    return xsimd::exp(x);
  }
};
struct Log {
  template <class B>
  B operator()(const B& x) const {
    return xsimd::log(x);
  }
};
struct Sin {
  template <class B>
  B operator()(const B& x) const {
    return xsimd::sin(x);
  }
};
struct Cos {
  template <class B>
  B operator()(const B& x) const {
    return xsimd::cos(x);
  }
};
struct Tan {
  template <class B>
  B operator()(const B& x) const {
    return xsimd::tan(x);
  }
};
struct Tanh {
  template <class B>
  B operator()(const B& x) const {
    return xsimd::tanh(x);
  }
};
struct Sinh {
  template <class B>
  B operator()(const B& x) const {
    return xsimd::sinh(x);
  }
};
struct Cosh {
  template <class B>
  B operator()(const B& x) const {
    return xsimd::cosh(x);
  }
};
struct Sqrt {
  template <class B>
  B operator()(const B& x) const {
    return xsimd::sqrt(x);
  }
};
struct Abs {
  template <class B>
  B operator()(const B& x) const {
    return xsimd::abs(x);
  }
};
struct Sign {  // -1, 0 or 1; NaN stays NaN
  template <class B>
  B operator()(const B& x) const {
    using T = value_of<B>;
    return xsimd::select(x > B(T(0)), B(T(1)), xsimd::select(x < B(T(0)), B(T(-1)), x));
  }
};
struct Sigmoid {  // exp(-|x|) never overflows; both branches are exact rearrangements
  template <class B>
  B operator()(const B& x) const {
    using T = value_of<B>;
    const B e = xsimd::exp(-xsimd::abs(x));
    const B r = B(T(1)) / (B(T(1)) + e);
    return xsimd::select(x >= B(T(0)), r, e * r);
  }
};
struct Relu {  // NaN propagates, as in PyTorch
  template <class B>
  B operator()(const B& x) const {
    using T = value_of<B>;
    return xsimd::select(x < B(T(0)), B(T(0)), x);
  }
};
struct Softplus {  // log(1 + exp(x)) = log1p(exp(-|x|)) + max(x, 0)
  template <class B>
  B operator()(const B& x) const {
    using T = value_of<B>;
    return xsimd::log1p(xsimd::exp(-xsimd::abs(x))) + xsimd::select(x > B(T(0)), x, B(T(0)));
  }
};
struct Erf {
  template <class B>
  B operator()(const B& x) const {
    return xsimd::erf(x);
  }
};
struct Square {
  template <class B>
  B operator()(const B& x) const {
    return x * x;
  }
};
struct Reciprocal {
  template <class B>
  B operator()(const B& x) const {
    using T = value_of<B>;
    return B(T(1)) / x;
  }
};
struct Copy {
  template <class B>
  B operator()(const B& x) const {
    return x;
  }
};
struct Ones {
  template <class B>
  B operator()(const B&) const {
    return B(value_of<B>(1));
  }
};
struct Cube {
  template <class B>
  B operator()(const B& x) const {
    return x * x * x;
  }
};
struct PowScalar {
  double p;
  template <class B>
  B operator()(const B& x) const {
    using T = value_of<B>;
    return xsimd::select(x == B(T(1)), B(T(1)), xsimd::pow(x, B(static_cast<T>(p))));
  }
};
struct Clamp {
  double lo, hi;
  template <class B>
  B operator()(const B& x) const {
    using T = value_of<B>;
    const B l(static_cast<T>(lo)), h(static_cast<T>(hi));
    return xsimd::select(x < l, l, xsimd::select(x > h, h, x));  // NaN stays NaN
  }
};

// ---- binary function objects ---------------------------------------------------------------------
struct Add {
  template <class B>
  B operator()(const B& a, const B& b) const {
    return a + b;
  }
};
struct Sub {
  template <class B>
  B operator()(const B& a, const B& b) const {
    return a - b;
  }
};
struct Mul {
  template <class B>
  B operator()(const B& a, const B& b) const {
    return a * b;
  }
};
struct ScaledMul {  // (a b) alpha: the rounding of a * b * alpha
  double alpha;
  template <class B>
  B operator()(const B& a, const B& b) const {
    return a * b * B(static_cast<value_of<B>>(alpha));
  }
};
struct Div {
  template <class B>
  B operator()(const B& a, const B& b) const {
    return a / b;
  }
};
struct Pow {  // as std::pow: x^0 = 1 and 1^y = 1 even for NaN
  template <class B>
  B operator()(const B& a, const B& b) const {
    using T = value_of<B>;
    const auto one_result = (b == B(T(0))) | (a == B(T(1)));
    return xsimd::select(one_result, B(T(1)), xsimd::pow(a, b));
  }
};
struct Maximum {  // NaN propagates, as in NumPy
  template <class B>
  B operator()(const B& a, const B& b) const {
    return xsimd::select(xsimd::isnan(a) | xsimd::isnan(b), a + b, xsimd::max(a, b));
  }
};
struct Minimum {
  template <class B>
  B operator()(const B& a, const B& b) const {
    return xsimd::select(xsimd::isnan(a) | xsimd::isnan(b), a + b, xsimd::min(a, b));
  }
};
#define JETGRAD_COMPARISON(Name, op)                  \
  struct Name {                                       \
    template <class B>                                \
    B operator()(const B& a, const B& b) const {      \
      using T = value_of<B>;                          \
      return xsimd::select(a op b, B(T(1)), B(T(0))); \
    }                                                 \
  };
JETGRAD_COMPARISON(Less, <)
JETGRAD_COMPARISON(LessEqual, <=)
JETGRAD_COMPARISON(Greater, >)
JETGRAD_COMPARISON(GreaterEqual, >=)
JETGRAD_COMPARISON(Equal, ==)
#undef JETGRAD_COMPARISON
struct NotEqual {  // true for NaN (xsimd's != is the ordered comparison, false for NaN)
  template <class B>
  B operator()(const B& a, const B& b) const {
    using T = value_of<B>;
    return xsimd::select(a == b, B(T(0)), B(T(1)));
  }
};

// ---- kernels ---------------------------------------------------------------------------------------
template <class T, class Op>
void unary_kernel(const T* in, T* out, std::size_t n, const Op& op) {
  using B = Batch<T>;
  constexpr std::size_t W = simd_width<T>;
  std::size_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    const B v0 = B::load_unaligned(in + i);
    const B v1 = B::load_unaligned(in + i + W);
    op(v0).store_unaligned(out + i);
    op(v1).store_unaligned(out + i + W);
  }
  for (; i + W <= n; i += W) op(B::load_unaligned(in + i)).store_unaligned(out + i);
  if (i < n) store_partial(out + i, n - i, op(load_partial(in + i, n - i, T(1))));
}

template <class Op>
Tensor unary(const Tensor& x, const Op& op) {
  Tensor out;
  out.resize(x.shape(), x.dtype());
  dispatch_dtype(x.dtype(), [&](auto z) {
    using T = decltype(z);
    unary_kernel<T>(x.data<T>(), out.data<T>(), x.numel(), op);
  });
  return out;
}

// One row of a binary op; SA / SB say whether the operand advances (stride 1) or is held (stride 0).
template <bool SA, bool SB, class T, class Op>
void binary_row(const T* a, const T* b, T* o, std::size_t n, const Op& op) {
  using B = Batch<T>;
  constexpr std::size_t W = simd_width<T>;
  const B ca(SA ? T(0) : *a);
  const B cb(SB ? T(0) : *b);
  std::size_t i = 0;
  for (; i + W <= n; i += W) {
    B va = ca, vb = cb;
    if constexpr (SA) va = B::load_unaligned(a + i);
    if constexpr (SB) vb = B::load_unaligned(b + i);
    op(va, vb).store_unaligned(o + i);
  }
  if (i < n) {
    B va = ca, vb = cb;
    if constexpr (SA) va = load_partial(a + i, n - i, T(1));
    if constexpr (SB) vb = load_partial(b + i, n - i, T(1));
    store_partial(o + i, n - i, op(va, vb));
  }
}

template <class T, class Op>
void binary_row_dispatch(const T* a, std::size_t sa, const T* b, std::size_t sb, T* o, std::size_t n,
                         const Op& op) {
  if (sa && sb)
    binary_row<true, true>(a, b, o, n, op);
  else if (sb)
    binary_row<false, true>(a, b, o, n, op);
  else if (sa)
    binary_row<true, false>(a, b, o, n, op);
  else
    binary_row<false, false>(a, b, o, n, op);
}

// out must already have the broadcast shape and the operands' dtype; out may alias a.
template <class Op>
void binary_into(const Tensor& a, const Tensor& b, Tensor& out, const Op& op) {
  dispatch_dtype(out.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    const std::size_t n = out.numel();
    if (n == 0) return;
    const std::size_t na = a.numel(), nb = b.numel();
    if (na == n && nb == n) {
      binary_row<true, true>(pa, pb, po, n, op);
    } else if (na == 1 && nb == n) {
      binary_row<false, true>(pa, pb, po, n, op);
    } else if (nb == 1 && na == n) {
      binary_row<true, false>(pa, pb, po, n, op);
    } else {
      const auto plan = detail::make_broadcast_plan<2>(out.shape(), {&a.shape(), &b.shape()});
      detail::for_each_row(plan, [&](const std::array<std::size_t, 2>& off, std::size_t oo, std::size_t len,
                                     const std::array<std::size_t, 2>& inner) {
        binary_row_dispatch(pa + off[0], inner[0], pb + off[1], inner[1], po + oo, len, op);
      });
    }
  });
}

template <class Op>
Tensor binary(const Tensor& a, const Tensor& b, const char* name, const Op& op) {
  check_same_dtype(a, b, name);
  Tensor out;
  out.resize(broadcast_shapes(a.shape(), b.shape(), name), a.dtype());
  binary_into(a, b, out, op);
  return out;
}

}  // namespace

// ---- unary -----------------------------------------------------------------------------------------
Tensor operator-(const Tensor& x) { return unary(x, Neg{}); }
Tensor exp(const Tensor& x) { return unary(x, Exp{}); }
Tensor log(const Tensor& x) { return unary(x, Log{}); }
Tensor sin(const Tensor& x) { return unary(x, Sin{}); }
Tensor cos(const Tensor& x) { return unary(x, Cos{}); }
Tensor tan(const Tensor& x) { return unary(x, Tan{}); }
Tensor tanh(const Tensor& x) { return unary(x, Tanh{}); }
Tensor sinh(const Tensor& x) { return unary(x, Sinh{}); }
Tensor cosh(const Tensor& x) { return unary(x, Cosh{}); }
Tensor sqrt(const Tensor& x) { return unary(x, Sqrt{}); }
Tensor abs(const Tensor& x) { return unary(x, Abs{}); }
Tensor sign(const Tensor& x) { return unary(x, Sign{}); }
Tensor sigmoid(const Tensor& x) { return unary(x, Sigmoid{}); }
Tensor relu(const Tensor& x) { return unary(x, Relu{}); }
Tensor softplus(const Tensor& x) { return unary(x, Softplus{}); }
Tensor erf(const Tensor& x) { return unary(x, Erf{}); }
Tensor square(const Tensor& x) { return unary(x, Square{}); }
Tensor reciprocal(const Tensor& x) { return unary(x, Reciprocal{}); }

Tensor pow(const Tensor& x, double p) {
  if (p == 0.0) return unary(x, Ones{});
  if (p == 1.0) return unary(x, Copy{});
  if (p == 2.0) return unary(x, Square{});
  if (p == 3.0) return unary(x, Cube{});
  if (p == -1.0) return unary(x, Reciprocal{});
  if (p == 0.5) return unary(x, Sqrt{});
  return unary(x, PowScalar{p});
}

Tensor clamp(const Tensor& x, double lo, double hi) {
  if (!(lo <= hi))
    throw ValueError("clamp: lower bound " + std::to_string(lo) + " is not at most upper bound " +
                     std::to_string(hi));
  return unary(x, Clamp{lo, hi});
}

// ---- binary ----------------------------------------------------------------------------------------
Tensor operator+(const Tensor& a, const Tensor& b) { return binary(a, b, "add", Add{}); }
Tensor operator-(const Tensor& a, const Tensor& b) { return binary(a, b, "sub", Sub{}); }
Tensor operator*(const Tensor& a, const Tensor& b) { return binary(a, b, "mul", Mul{}); }
Tensor operator/(const Tensor& a, const Tensor& b) { return binary(a, b, "div", Div{}); }
Tensor pow(const Tensor& a, const Tensor& b) { return binary(a, b, "pow", Pow{}); }
Tensor maximum(const Tensor& a, const Tensor& b) { return binary(a, b, "maximum", Maximum{}); }
Tensor minimum(const Tensor& a, const Tensor& b) { return binary(a, b, "minimum", Minimum{}); }

Tensor operator+(const Tensor& a, double b) { return binary(a, Tensor(b, a.dtype()), "add", Add{}); }
Tensor operator-(const Tensor& a, double b) { return binary(a, Tensor(b, a.dtype()), "sub", Sub{}); }
Tensor operator*(const Tensor& a, double b) { return binary(a, Tensor(b, a.dtype()), "mul", Mul{}); }
Tensor operator/(const Tensor& a, double b) { return binary(a, Tensor(b, a.dtype()), "div", Div{}); }
Tensor operator+(double a, const Tensor& b) { return binary(Tensor(a, b.dtype()), b, "add", Add{}); }
Tensor operator-(double a, const Tensor& b) { return binary(Tensor(a, b.dtype()), b, "sub", Sub{}); }
Tensor operator*(double a, const Tensor& b) { return binary(Tensor(a, b.dtype()), b, "mul", Mul{}); }
Tensor operator/(double a, const Tensor& b) { return binary(Tensor(a, b.dtype()), b, "div", Div{}); }

Tensor scaled_product(const Tensor& a, const Tensor& b, double alpha) {
  if (!(a.shape() == b.shape()) || a.dtype() != b.dtype()) return a * b * alpha;
  Tensor out;
  out.resize(a.shape(), a.dtype());
  binary_into(a, b, out, ScaledMul{alpha});
  return out;
}

Tensor scaled_product(Tensor&& a, const Tensor& b, double alpha) {
  if (!(a.shape() == b.shape()) || a.dtype() != b.dtype() || a.shares_buffer())
    return scaled_product(std::as_const(a), b, alpha);
  Tensor out = std::move(a);
  binary_into(out, b, out, ScaledMul{alpha});  // elementwise: writing over an operand is safe
  return out;
}

namespace {
bool one_layout(const Tensor& g, const Tensor& a, const Tensor& b) {
  return g.shape() == a.shape() && g.shape() == b.shape() && g.dtype() == a.dtype() && g.dtype() == b.dtype();
}
// ga = g b and gb = g a in one pass; ga may be g itself (each element of g is read before its
// place is written).
void mul_cotangents_into(const Tensor& g, const Tensor& a, const Tensor& b, Tensor& ga, Tensor& gb) {
  dispatch_dtype(g.dtype(), [&](auto z) {
    using T = decltype(z);
    using B = Batch<T>;
    constexpr std::size_t W = simd_width<T>;
    const T *pg = g.data<T>(), *pa = a.data<T>(), *pb = b.data<T>();
    T *oa = ga.data<T>(), *ob = gb.data<T>();
    const std::size_t n = g.numel(), full = n - n % W;
    for (std::size_t i = 0; i < full; i += W) {
      const B vg = B::load_unaligned(pg + i);
      (vg * B::load_unaligned(pb + i)).store_unaligned(oa + i);
      (vg * B::load_unaligned(pa + i)).store_unaligned(ob + i);
    }
    for (std::size_t i = full; i < n; ++i) {
      const T gi = pg[i];
      oa[i] = gi * pb[i];
      ob[i] = gi * pa[i];
    }
  });
}
}  // namespace

std::pair<Tensor, Tensor> mul_cotangents(const Tensor& g, const Tensor& a, const Tensor& b) {
  if (!one_layout(g, a, b)) return {g * b, g * a};
  std::pair<Tensor, Tensor> out;
  out.first.resize(g.shape(), g.dtype());
  out.second.resize(g.shape(), g.dtype());
  mul_cotangents_into(g, a, b, out.first, out.second);
  return out;
}

std::pair<Tensor, Tensor> mul_cotangents(Tensor&& g, const Tensor& a, const Tensor& b) {
  if (!one_layout(g, a, b) || g.shares_buffer()) return mul_cotangents(std::as_const(g), a, b);
  std::pair<Tensor, Tensor> out;
  out.second.resize(g.shape(), g.dtype());
  mul_cotangents_into(g, a, b, g, out.second);
  out.first = std::move(g);
  return out;
}

Tensor& operator+=(Tensor& a, const Tensor& b) {
  check_same_dtype(a, b, "add (+=)");
  const Shape s = broadcast_shapes(a.shape(), b.shape(), "add (+=)");
  if (!(s == a.shape()))
    throw ShapeError("add (+=): cannot broadcast shape " + b.shape().str() + " into " + a.shape().str());
  binary_into(a, b, a, Add{});
  return a;
}

Tensor less(const Tensor& a, const Tensor& b) { return binary(a, b, "less", Less{}); }
Tensor less_equal(const Tensor& a, const Tensor& b) { return binary(a, b, "less_equal", LessEqual{}); }
Tensor greater(const Tensor& a, const Tensor& b) { return binary(a, b, "greater", Greater{}); }
Tensor greater_equal(const Tensor& a, const Tensor& b) {
  return binary(a, b, "greater_equal", GreaterEqual{});
}
Tensor equal(const Tensor& a, const Tensor& b) { return binary(a, b, "equal", Equal{}); }
Tensor not_equal(const Tensor& a, const Tensor& b) { return binary(a, b, "not_equal", NotEqual{}); }

// cond may hold either dtype; a and b must match.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_same_dtype(a, b, "where");
  const Shape ab = broadcast_shapes(a.shape(), b.shape(), "where");
  const Shape s = broadcast_shapes(cond.shape(), ab, "where");
  Tensor converted;
  const Tensor* c = &cond;
  if (cond.dtype() != a.dtype()) {
    converted = cond.to(a.dtype());
    c = &converted;
  }
  Tensor out;
  out.resize(s, a.dtype());
  dispatch_dtype(a.dtype(), [&](auto z) {
    using T = decltype(z);
    using B = Batch<T>;
    constexpr std::size_t W = simd_width<T>;
    const T* pc = c->data<T>();
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    const auto plan = detail::make_broadcast_plan<3>(s, {&c->shape(), &a.shape(), &b.shape()});
    detail::for_each_row(plan, [&](const std::array<std::size_t, 3>& off, std::size_t oo, std::size_t n,
                                   const std::array<std::size_t, 3>& st) {
      const T* rc = pc + off[0];
      const T* ra = pa + off[1];
      const T* rb = pb + off[2];
      T* ro = po + oo;
      std::size_t i = 0;
      if (st[0] && st[1] && st[2]) {
        for (; i + W <= n; i += W) {
          const B vc = B::load_unaligned(rc + i);
          // cond == 0 picks b, anything else (NaN included) picks a.
          xsimd::select(vc == B(T(0)), B::load_unaligned(rb + i), B::load_unaligned(ra + i))
              .store_unaligned(ro + i);
        }
      }
      for (; i < n; ++i) ro[i] = rc[i * st[0]] != T(0) ? ra[i * st[1]] : rb[i * st[2]];
    });
  });
  return out;
}

}  // namespace jetgrad
