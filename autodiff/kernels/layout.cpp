// Layout operations: reshape, transpose, broadcast_to / sum_to, slice / unslice, concat,
// gather / scatter_add, and the comparison helpers used by tests.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "autodiff/kernels/strided.hpp"
#include "autodiff/tensor_ops.hpp"

namespace jetgrad {

namespace {

std::string num(std::ptrdiff_t v) { return std::to_string(v); }
std::string num(std::size_t v) { return std::to_string(v); }

using detail::Extents;
using detail::extents;

// Copies `count` elements of `es` bytes. Single elements (slice, unslice and gather along the last
// axis, e.g. a convolution's im2col) take a fixed-size copy the compiler inlines: a library memcpy
// call per element made those ~10x slower.
inline void copy_elements(std::byte* dst, const std::byte* src, std::size_t count, std::size_t es) {
  if (count == 1) {
    if (es == sizeof(double))
      std::memcpy(dst, src, sizeof(double));
    else
      std::memcpy(dst, src, sizeof(float));
    return;
  }
  std::memcpy(dst, src, count * es);
}

// Copies `in` read with element strides `st` over extents `ext` (rank r >= 1) into contiguous `out`.
// The last two axes go through a cache-blocked loop (the transpose of a matrix).
template <class T>
void strided_copy(const T* in, T* out, const std::size_t* ext, const std::size_t* st, int r) {
  if (r == 1) {
    if (st[0] == 1) {
      std::memcpy(out, in, ext[0] * sizeof(T));
    } else {
      for (std::size_t j = 0; j < ext[0]; ++j) out[j] = in[j * st[0]];
    }
    return;
  }
  if (r > 2) {
    const std::size_t block = [&] {
      std::size_t b = 1;
      for (int d = 1; d < r; ++d) b *= ext[d];
      return b;
    }();
    for (std::size_t i = 0; i < ext[0]; ++i)
      strided_copy(in + i * st[0], out + i * block, ext + 1, st + 1, r - 1);
    return;
  }
  const std::size_t e0 = ext[0], e1 = ext[1], s0 = st[0], s1 = st[1];
  if (s1 == 1) {
    for (std::size_t i = 0; i < e0; ++i) std::memcpy(out + i * e1, in + i * s0, e1 * sizeof(T));
    return;
  }
  constexpr std::size_t B = 32;
  for (std::size_t ib = 0; ib < e0; ib += B) {
    const std::size_t ie = std::min(e0, ib + B);
    for (std::size_t jb = 0; jb < e1; jb += B) {
      const std::size_t je = std::min(e1, jb + B);
      for (std::size_t i = ib; i < ie; ++i)
        for (std::size_t j = jb; j < je; ++j) out[i * e1 + j] = in[i * s0 + j * s1];
    }
  }
}

std::vector<int> check_perm(std::span<const int> perm, const Shape& s) {
  const int r = s.rank();
  auto bad = [&](const std::string& why) {
    std::string p = "(";
    for (std::size_t i = 0; i < perm.size(); ++i) p += (i ? ", " : "") + std::to_string(perm[i]);
    p += ")";
    throw ShapeError("transpose: invalid permutation " + p + " for shape " + s.str() + ": " + why);
  };
  if (static_cast<int>(perm.size()) != r)
    bad("it has " + std::to_string(perm.size()) + " entries, the tensor has rank " + std::to_string(r));
  std::vector<int> p(perm.size());
  std::vector<bool> seen(perm.size(), false);
  for (std::size_t i = 0; i < perm.size(); ++i) {
    if (perm[i] < -r || perm[i] >= r) bad("axis " + std::to_string(perm[i]) + " is out of range");
    p[i] = perm[i] < 0 ? perm[i] + r : perm[i];
    if (seen[static_cast<std::size_t>(p[i])]) bad("axis " + std::to_string(p[i]) + " appears twice");
    seen[static_cast<std::size_t>(p[i])] = true;
  }
  return p;
}

struct SliceRange {
  std::size_t start = 0, count = 0, step = 1;
};

SliceRange slice_range(const char* what, std::size_t n, std::ptrdiff_t start, std::ptrdiff_t stop,
                       std::ptrdiff_t step) {
  if (step <= 0) throw ValueError(std::string(what) + ": step must be positive, got " + num(step));
  const auto sn = static_cast<std::ptrdiff_t>(n);
  auto clip = [&](std::ptrdiff_t v) {
    if (v < 0) v += sn;
    return std::clamp<std::ptrdiff_t>(v, 0, sn);
  };
  const std::ptrdiff_t b = clip(start), e = clip(stop);
  SliceRange r;
  r.start = static_cast<std::size_t>(b);
  r.step = static_cast<std::size_t>(step);
  r.count = e > b ? static_cast<std::size_t>((e - b + step - 1) / step) : 0;
  return r;
}

Shape with_extent(const Shape& s, int ax, std::size_t n) {
  Shape out = s;
  out[ax] = n;
  return out;
}

void check_indices(const char* what, std::span<const std::size_t> idx, const Shape& s, int ax) {
  for (std::size_t i : idx)
    if (i >= s[ax])
      throw ValueError(std::string(what) + ": index " + num(i) + " is out of range for axis " +
                       std::to_string(ax) + " with extent " + num(s[ax]) + " (shape " + s.str() + ")");
}

// Visits broadcast element pairs of a and b as doubles.
template <class F>
void for_each_pair(const Tensor& a, const Tensor& b, const char* what, F&& f) {
  const Shape s = broadcast_shapes(a.shape(), b.shape(), what);
  const Tensor da = a.to(DType::f64), db = b.to(DType::f64);
  const double* pa = da.data<double>();
  const double* pb = db.data<double>();
  const auto plan = detail::make_broadcast_plan<2>(s, {&a.shape(), &b.shape()});
  detail::for_each_row(plan, [&](const std::array<std::size_t, 2>& off, std::size_t, std::size_t n,
                                 const std::array<std::size_t, 2>& st) {
    for (std::size_t i = 0; i < n; ++i) f(pa[off[0] + i * st[0]], pb[off[1] + i * st[1]]);
  });
}

}  // namespace

Tensor reshape(const Tensor& x, const Shape& shape) { return x.reshape(shape); }

Tensor transpose(const Tensor& x) {
  std::vector<int> perm(static_cast<std::size_t>(x.rank()));
  for (int i = 0; i < x.rank(); ++i) perm[static_cast<std::size_t>(i)] = x.rank() - 1 - i;
  return transpose(x, std::span<const int>(perm));
}

Tensor transpose(const Tensor& x, std::initializer_list<int> perm) {
  return transpose(x, std::span<const int>(perm.begin(), perm.size()));
}

Tensor transpose(const Tensor& x, std::span<const int> perm_in) {
  const Shape& s = x.shape();
  const std::vector<int> perm = check_perm(perm_in, s);
  const int r = s.rank();
  std::array<std::size_t, Shape::max_rank> xstride{};
  {
    std::size_t st = 1;
    for (int i = r - 1; i >= 0; --i) {
      xstride[static_cast<std::size_t>(i)] = st;
      st *= s[i];
    }
  }
  Shape out_shape;
  for (int d = 0; d < r; ++d) out_shape.push_back(s[perm[static_cast<std::size_t>(d)]]);
  Tensor out;
  out.resize(out_shape, x.dtype());
  if (out.numel() == 0) return out;
  // Drop extent-1 axes and merge axes that stay adjacent in the input.
  std::array<std::size_t, Shape::max_rank> ext{}, st{};
  int q = 0;
  for (int d = 0; d < r; ++d) {
    const std::size_t e = out_shape[d];
    const std::size_t sd = xstride[static_cast<std::size_t>(perm[static_cast<std::size_t>(d)])];
    if (e == 1) continue;
    if (q > 0 && st[static_cast<std::size_t>(q - 1)] == sd * e) {
      ext[static_cast<std::size_t>(q - 1)] *= e;
      st[static_cast<std::size_t>(q - 1)] = sd;
      continue;
    }
    ext[static_cast<std::size_t>(q)] = e;
    st[static_cast<std::size_t>(q)] = sd;
    ++q;
  }
  if (q == 0) {
    ext[0] = 1;
    st[0] = 1;
    q = 1;
  }
  dispatch_dtype(x.dtype(), [&](auto z) {
    using T = decltype(z);
    strided_copy(x.data<T>(), out.data<T>(), ext.data(), st.data(), q);
  });
  return out;
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  if (x.numel() == 1 && x.rank() <= shape.rank())  // one element (a reduction's cotangent): a fill
    return Tensor::full(shape, x.at(0), x.dtype());
  Shape s;
  try {
    s = broadcast_shapes(x.shape(), shape, "broadcast_to");
  } catch (const ShapeError&) {
    s = Shape{};
  }
  if (!(s == shape) || x.rank() > shape.rank())
    throw ShapeError("broadcast_to: cannot broadcast shape " + x.shape().str() + " to " + shape.str());
  Tensor out;
  out.resize(shape, x.dtype());
  dispatch_dtype(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* px = x.data<T>();
    T* po = out.data<T>();
    const auto plan = detail::make_broadcast_plan<1>(shape, {&x.shape()});
    detail::for_each_row(plan, [&](const std::array<std::size_t, 1>& off, std::size_t oo, std::size_t n,
                                   const std::array<std::size_t, 1>& st) {
      if (st[0])
        std::memcpy(po + oo, px + off[0], n * sizeof(T));
      else
        std::fill(po + oo, po + oo + n, px[off[0]]);
    });
  });
  return out;
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;  // shares the buffer
  bool ok = shape.rank() <= x.rank();
  if (ok) {
    try {
      ok = broadcast_shapes(shape, x.shape(), "sum_to") == x.shape();
    } catch (const ShapeError&) {
      ok = false;
    }
  }
  if (!ok) throw ShapeError("sum_to: cannot sum shape " + x.shape().str() + " to " + shape.str());
  // Partial sums only: x itself is read, never copied.
  std::optional<Tensor> r;
  const auto current = [&]() -> const Tensor& { return r ? *r : x; };
  for (int i = 0; i < x.rank() - shape.rank(); ++i) r = sum(current(), 0, false);
  for (int i = 0; i < shape.rank(); ++i)
    if (shape[i] == 1 && current().shape()[i] != 1) r = sum(current(), i, true);
  return std::move(*r);
}

Tensor sum_to(Tensor&& x, const Shape& shape) {
  if (x.shape() == shape) return std::move(x);
  return sum_to(static_cast<const Tensor&>(x), shape);
}

Tensor slice(const Tensor& x, int axis, std::ptrdiff_t start, std::ptrdiff_t stop, std::ptrdiff_t step) {
  const int ax = normalize_axis(axis, x.rank(), "slice");
  const Extents e = extents(x.shape(), ax);
  const SliceRange sr = slice_range("slice", e.n, start, stop, step);
  Tensor out;
  out.resize(with_extent(x.shape(), ax, sr.count), x.dtype());
  const std::size_t es = dtype_size(x.dtype());
  const auto* px = static_cast<const std::byte*>(x.raw_data());
  auto* po = static_cast<std::byte*>(out.raw_data());
  if (sr.step == 1) {  // one contiguous run per outer index
    const std::size_t run = sr.count * e.inner;
    for (std::size_t o = 0; o < e.outer; ++o)
      copy_elements(po + o * run * es, px + (o * e.n + sr.start) * e.inner * es, run, es);
    return out;
  }
  for (std::size_t o = 0; o < e.outer; ++o)
    for (std::size_t c = 0; c < sr.count; ++c)
      copy_elements(po + ((o * sr.count + c) * e.inner) * es,
                    px + ((o * e.n + sr.start + c * sr.step) * e.inner) * es, e.inner, es);
  return out;
}

Tensor unslice(const Tensor& x, const Shape& shape, int axis, std::ptrdiff_t start, std::ptrdiff_t stop,
               std::ptrdiff_t step) {
  const int ax = normalize_axis(axis, shape.rank(), "unslice");
  const Extents e = extents(shape, ax);
  const SliceRange sr = slice_range("unslice", e.n, start, stop, step);
  const Shape expected = with_extent(shape, ax, sr.count);
  if (!(x.shape() == expected))
    throw ShapeError("unslice: shape " + x.shape().str() + " does not fit the slice of " + shape.str() +
                     " along axis " + std::to_string(ax) + ", which has shape " + expected.str());
  const std::size_t es = dtype_size(x.dtype());
  const auto* px = static_cast<const std::byte*>(x.raw_data());
  if (sr.step == 1) {  // per outer index: zeros before the run, the run, zeros after (no full zero-fill)
    Tensor out;
    out.resize(shape, x.dtype());
    auto* po = static_cast<std::byte*>(out.raw_data());
    const std::size_t head = sr.start * e.inner * es, run = sr.count * e.inner * es, row = e.n * e.inner * es;
    for (std::size_t o = 0; o < e.outer; ++o) {
      std::byte* r = po + o * row;
      std::memset(r, 0, head);
      copy_elements(r + head, px + o * run, sr.count * e.inner, es);
      std::memset(r + head + run, 0, row - head - run);
    }
    return out;
  }
  Tensor out(x.dtype(), shape);
  auto* po = static_cast<std::byte*>(out.raw_data());
  for (std::size_t o = 0; o < e.outer; ++o)
    for (std::size_t c = 0; c < sr.count; ++c)
      copy_elements(po + ((o * e.n + sr.start + c * sr.step) * e.inner) * es,
                    px + ((o * sr.count + c) * e.inner) * es, e.inner, es);
  return out;
}

void slice_add(Tensor& acc, const Tensor& x, int axis, std::ptrdiff_t start, std::ptrdiff_t stop,
               std::ptrdiff_t step, double alpha) {
  check_same_dtype(acc, x, "slice_add");
  const int ax = normalize_axis(axis, acc.rank(), "slice_add");
  const Extents e = extents(acc.shape(), ax);
  const SliceRange sr = slice_range("slice_add", e.n, start, stop, step);
  const Shape expected = with_extent(acc.shape(), ax, sr.count);
  if (!(x.shape() == expected))
    throw ShapeError("slice_add: shape " + x.shape().str() + " does not fit the slice of " +
                     acc.shape().str() + " along axis " + std::to_string(ax) + ", which has shape " +
                     expected.str());
  if (x.numel() == 0) return;
  dispatch_dtype(acc.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* px = x.data<T>();
    T* pa = acc.data<T>();  // detaches a shared buffer: px stays valid
    const T a = static_cast<T>(alpha);
    // Runs of `len` contiguous elements: the whole slice of each outer index when step is 1.
    const std::size_t len = sr.step == 1 ? sr.count * e.inner : e.inner;
    const std::size_t runs = sr.step == 1 ? 1 : sr.count;
    for (std::size_t o = 0; o < e.outer; ++o)
      for (std::size_t c = 0; c < runs; ++c) {
        T* dst = pa + (o * e.n + sr.start + c * sr.step) * e.inner;
        const T* src = px + (o * sr.count + c) * e.inner;
        if (alpha == 1.0)
          for (std::size_t j = 0; j < len; ++j) dst[j] += src[j];
        else
          for (std::size_t j = 0; j < len; ++j) dst[j] += a * src[j];
      }
  });
}

Tensor concat(std::span<const Tensor> parts, int axis) {
  if (parts.empty()) throw ValueError("concat: no tensors to concatenate");
  const Tensor& first = parts[0];
  const int ax = normalize_axis(axis, first.rank(), "concat");
  std::size_t total = 0;
  for (const Tensor& p : parts) {
    check_same_dtype(first, p, "concat");
    bool fits = p.rank() == first.rank();
    for (int i = 0; fits && i < p.rank(); ++i)
      if (i != ax && p.shape()[i] != first.shape()[i]) fits = false;
    if (!fits)
      throw ShapeError("concat: shapes " + first.shape().str() + " and " + p.shape().str() +
                       " do not fit: they must match on every axis but axis " + std::to_string(ax));
    total += p.shape()[ax];
  }
  Tensor out;
  out.resize(with_extent(first.shape(), ax, total), first.dtype());
  const Extents e = extents(out.shape(), ax);
  const std::size_t es = dtype_size(first.dtype());
  auto* po = static_cast<std::byte*>(out.raw_data());
  for (std::size_t o = 0; o < e.outer; ++o) {
    for (const Tensor& p : parts) {
      const std::size_t chunk = p.shape()[ax] * e.inner * es;
      std::memcpy(po, static_cast<const std::byte*>(p.raw_data()) + o * chunk, chunk);
      po += chunk;
    }
  }
  return out;
}

Tensor concat(std::initializer_list<Tensor> parts, int axis) {
  return concat(std::span<const Tensor>(parts.begin(), parts.size()), axis);
}

namespace {

// Runs of consecutive indices, idx[c + t] = idx[c] + t: a convolution's index table (im2col) is made of
// window rows, OW long for stride 1, which gather copies and scatter_add adds as blocks the compiler
// vectorizes, instead of element by element.
struct IndexRun {
  std::size_t position, index, length;  // indices[position + t] == index + t for t < length
};
std::vector<IndexRun> index_runs(std::span<const std::size_t> indices) {
  std::vector<IndexRun> runs;
  for (std::size_t c = 0; c < indices.size();) {
    std::size_t length = 1;
    while (c + length < indices.size() && indices[c + length] == indices[c] + length) ++length;
    runs.push_back({c, indices[c], length});
    c += length;
  }
  return runs;
}
// Worth the blocks only when runs are long enough on average (pooling windows of stride 2 are not).
bool long_runs(const std::vector<IndexRun>& runs, std::size_t k) { return runs.size() * 4 <= k; }
template <class T>
void add_block(const T* __restrict src, T* __restrict dst, std::size_t n) {
  for (std::size_t t = 0; t < n; ++t) dst[t] += src[t];
}

}  // namespace

Tensor gather(const Tensor& x, std::span<const std::size_t> indices, int axis) {
  const int ax = normalize_axis(axis, x.rank(), "gather");
  check_indices("gather", indices, x.shape(), ax);
  const Extents e = extents(x.shape(), ax);
  const std::size_t k = indices.size();
  Tensor out;
  out.resize(with_extent(x.shape(), ax, k), x.dtype());
  const std::size_t es = dtype_size(x.dtype());
  const auto* px = static_cast<const std::byte*>(x.raw_data());
  auto* po = static_cast<std::byte*>(out.raw_data());
  if (e.inner == 1) {  // along the last axis (im2col): a typed loop, no per-element call
    dispatch_dtype(x.dtype(), [&](auto z) {
      using T = decltype(z);
      const T* src = x.data<T>();
      T* dst = out.data<T>();
      const std::size_t* idx = indices.data();
      if (const auto runs = index_runs(indices); long_runs(runs, k)) {
        for (std::size_t o = 0; o < e.outer; ++o, src += e.n, dst += k)
          for (const IndexRun& r : runs) std::copy_n(src + r.index, r.length, dst + r.position);
        return;
      }
      for (std::size_t o = 0; o < e.outer; ++o, src += e.n, dst += k)
        for (std::size_t c = 0; c < k; ++c) dst[c] = src[idx[c]];
    });
    return out;
  }
  for (std::size_t o = 0; o < e.outer; ++o)
    for (std::size_t c = 0; c < k; ++c)
      copy_elements(po + ((o * k + c) * e.inner) * es, px + ((o * e.n + indices[c]) * e.inner) * es, e.inner,
                    es);
  return out;
}

Tensor scatter_add(const Tensor& x, std::span<const std::size_t> indices, int axis, const Shape& shape) {
  const int ax = normalize_axis(axis, shape.rank(), "scatter_add");
  const Shape expected = with_extent(shape, ax, indices.size());
  if (!(x.shape() == expected))
    throw ShapeError("scatter_add: shape " + x.shape().str() + " does not fit " +
                     std::to_string(indices.size()) + " indices into " + shape.str() + " along axis " +
                     std::to_string(ax) + " (expected " + expected.str() + ")");
  check_indices("scatter_add", indices, shape, ax);
  const Extents e = extents(shape, ax);
  const std::size_t k = indices.size();
  Tensor out(x.dtype(), shape);
  dispatch_dtype(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* px = x.data<T>();
    T* po = out.data<T>();
    const std::size_t* idx = indices.data();
    if (e.inner == 1) {  // along the last axis (col2im): the typed loops gather has, transposed
      if (const auto runs = index_runs(indices); long_runs(runs, k)) {
        for (std::size_t o = 0; o < e.outer; ++o, px += k, po += e.n)
          for (const IndexRun& r : runs) add_block(px + r.position, po + r.index, r.length);
        return;
      }
      for (std::size_t o = 0; o < e.outer; ++o, px += k, po += e.n)
        for (std::size_t c = 0; c < k; ++c) po[idx[c]] += px[c];
      return;
    }
    for (std::size_t o = 0; o < e.outer; ++o)
      for (std::size_t c = 0; c < k; ++c) {
        T* dst = po + (o * e.n + indices[c]) * e.inner;
        const T* src = px + (o * k + c) * e.inner;
        for (std::size_t i = 0; i < e.inner; ++i) dst[i] += src[i];
      }
  });
  return out;
}

// Equal values (including equal infinities) differ by 0; a NaN on either side makes the result NaN.
double max_abs_diff(const Tensor& a, const Tensor& b) {
  double m = 0.0;
  bool nan = false;
  for_each_pair(a, b, "max_abs_diff", [&](double x, double y) {
    if (x == y) return;
    const double d = std::fabs(x - y);
    if (std::isnan(d))
      nan = true;
    else if (d > m)
      m = d;
  });
  return nan ? std::nan("") : m;
}

// NumPy's rule |a - b| <= atol + rtol |b|; NaN is never close, equal infinities are.
bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
  bool ok = true;
  for_each_pair(a, b, "allclose", [&](double x, double y) {
    if (x == y) return;
    if (!std::isfinite(x) || !std::isfinite(y) || !(std::fabs(x - y) <= atol + rtol * std::fabs(y)))
      ok = false;
  });
  return ok;
}

}  // namespace jetgrad
