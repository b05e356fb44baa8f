// Internal: iteration over a contiguous output whose operands are broadcast (stride 0) views of
// contiguous row-major inputs. Adjacent axes are merged whenever every operand allows it, so the
// innermost row is as long as possible and each operand's stride along it is 0 or 1.
#pragma once

#include <array>
#include <cstddef>

#include "autodiff/shape.hpp"

namespace jetgrad::detail {

// A row-major shape seen as (outer, n, inner) around axis `ax`: the layout every kernel that works
// along one axis (reductions, slice, gather, concat) iterates over.
struct Extents {
  std::size_t outer = 1, n = 1, inner = 1;
};
inline Extents extents(const Shape& s, int ax) {
  Extents e;
  for (int i = 0; i < s.rank(); ++i) {
    if (i < ax)
      e.outer *= s[i];
    else if (i == ax)
      e.n = s[i];
    else
      e.inner *= s[i];
  }
  return e;
}

template <std::size_t N>
struct BroadcastPlan {
  int rank = 0;  // after merging; at least 1 unless the output is empty
  std::array<std::size_t, Shape::max_rank> ext{};
  std::array<std::array<std::size_t, Shape::max_rank>, N> stride{};  // element strides per operand
  std::size_t numel = 0;
};

// `out` must be the broadcast of every operand shape.
template <std::size_t N>
BroadcastPlan<N> make_broadcast_plan(const Shape& out, const std::array<const Shape*, N>& in) {
  BroadcastPlan<N> p;
  p.numel = out.numel();
  const int R = out.rank();
  // Full-rank strides, then drop extent-1 axes and merge.
  std::array<std::array<std::size_t, Shape::max_rank>, N> full{};
  for (std::size_t k = 0; k < N; ++k) {
    const Shape& s = *in[k];
    std::size_t st = 1;
    for (int i = R - 1; i >= 0; --i) {
      const int j = i - (R - s.rank());
      const std::size_t d = j >= 0 ? s[j] : 1;
      full[k][static_cast<std::size_t>(i)] = (d == 1) ? 0 : st;
      st *= d;
    }
  }
  int r = 0;
  for (int i = 0; i < R; ++i) {
    const auto ui = static_cast<std::size_t>(i);
    if (out[i] == 1) continue;
    if (r > 0) {
      const auto prev = static_cast<std::size_t>(r - 1);
      bool merge = true;
      for (std::size_t k = 0; k < N; ++k)
        if (p.stride[k][prev] != full[k][ui] * out[i]) merge = false;
      if (merge) {
        p.ext[prev] *= out[i];
        for (std::size_t k = 0; k < N; ++k) p.stride[k][prev] = full[k][ui];
        continue;
      }
    }
    p.ext[static_cast<std::size_t>(r)] = out[i];
    for (std::size_t k = 0; k < N; ++k) p.stride[k][static_cast<std::size_t>(r)] = full[k][ui];
    ++r;
  }
  if (r == 0) {  // a single element
    p.ext[0] = 1;
    for (std::size_t k = 0; k < N; ++k) p.stride[k][0] = 1;
    r = 1;
  }
  p.rank = r;
  return p;
}

// Calls row(offsets, out_offset, n, inner_strides) once per innermost row, where offsets[k] is the
// element offset of operand k at the row start and inner_strides[k] is 0 or 1.
template <std::size_t N, class F>
void for_each_row(const BroadcastPlan<N>& p, F&& row) {
  if (p.numel == 0) return;
  const auto last = static_cast<std::size_t>(p.rank - 1);
  const std::size_t n = p.ext[last];
  std::array<std::size_t, N> inner{};
  for (std::size_t k = 0; k < N; ++k) inner[k] = p.stride[k][last];
  std::array<std::size_t, Shape::max_rank> idx{};
  std::array<std::size_t, N> off{};
  const std::size_t rows = p.numel / n;
  for (std::size_t r = 0; r < rows; ++r) {
    row(off, r * n, n, inner);
    // Advance the multi-index over the outer axes.
    for (int d = p.rank - 2; d >= 0; --d) {
      const auto ud = static_cast<std::size_t>(d);
      if (++idx[ud] < p.ext[ud]) {
        for (std::size_t k = 0; k < N; ++k) off[k] += p.stride[k][ud];
        break;
      }
      for (std::size_t k = 0; k < N; ++k) off[k] -= p.stride[k][ud] * (p.ext[ud] - 1);
      idx[ud] = 0;
    }
  }
}

}  // namespace jetgrad::detail
