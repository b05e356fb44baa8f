// Layout primitives. All are linear, and they come in adjoint pairs: reshape/reshape,
// transpose/inverse transpose, broadcast_to/sum_to, slice/unslice, gather/scatter_add.
// Being linear, each propagates a Taylor series coefficient by coefficient: y_k = L(x_k), with the
// leading direction axis D of the coefficients carried along (negative axes need no change).
#pragma once

#include <type_traits>

#include "autodiff/ops/rule_support.hpp"
#include "autodiff/ops/taylor_rules.hpp"

namespace jetgrad::rules {

inline std::span<const int> perm_of(const Attrs& at, int rank) {
  return {at.perm.data(), static_cast<std::size_t>(rank)};
}
inline std::span<const std::size_t> indices_of(const Attrs& at) { return *at.indices; }

struct ReshapeOp {  // y = reshape(x, s);  x̄ = reshape(g, shape x)
  static Tensor eval(const EvalArgs& e) { return reshape(e.x(), e.at().shape); }
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    gx[0] = reshape(a.g, a.x().shape());
  }
  static void taylor(const TaylorArgs& t, Series& ys) {
    each_coefficient(t, 0, ys,
                     [&](const Tensor& xk) { return reshape(xk, batched(xk.shape()[0], t.at().shape)); });
  }
};

struct TransposeOp {  // y = permute(x, p);  x̄ = permute(g, p⁻¹)
  static Tensor eval(const EvalArgs& e) { return transpose(e.x(), perm_of(e.at(), e.x().rank())); }
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    const int r = a.x().rank();
    std::array<int, Shape::max_rank> inverse{};
    for (int i = 0; i < r; ++i)
      inverse[static_cast<std::size_t>(a.at().perm[static_cast<std::size_t>(i)])] = i;
    gx[0] = transpose(a.g, std::span<const int>(inverse.data(), static_cast<std::size_t>(r)));
  }
  static void taylor(const TaylorArgs& t, Series& ys) {
    const int r = t.x()[0].rank();
    std::array<int, Shape::max_rank> perm{};  // the direction axis stays first
    for (int i = 0; i < r; ++i)
      perm[static_cast<std::size_t>(i + 1)] = t.at().perm[static_cast<std::size_t>(i)] + 1;
    each_coefficient(t, 0, ys, [&](const Tensor& xk) {
      return transpose(xk, std::span<const int>(perm.data(), static_cast<std::size_t>(r + 1)));
    });
  }
};

struct BroadcastToOp {  // y = broadcast(x, s);  x̄ = sum_to(g, shape x)
  static Tensor eval(const EvalArgs& e) { return broadcast_to(e.x(), e.at().shape); }
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    gx[0] = sum_to(a.g, a.x().shape());
  }
  static void taylor(const TaylorArgs& t, Series& ys) {
    each_coefficient(t, 0, ys, [&](const Tensor& xk) { return to_output(xk, t.y0()); });
  }
};

struct SumToOp {  // y = sum_to(x, s);  x̄ = broadcast(g, shape x)
  static Tensor eval(const EvalArgs& e) { return sum_to(e.x(), e.at().shape); }
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    gx[0] = broadcast_to(a.g, a.x().shape());
  }
  static void taylor(const TaylorArgs& t, Series& ys) {
    const Shape& target = t.at().shape;
    const int extra = t.x()[0].rank() - target.rank();
    each_coefficient(t, 0, ys, [&](const Tensor& xk) {
      Shape aligned;  // [D] + unit axes + target: lines up with xk's axes for sum_to
      aligned.push_back(xk.shape()[0]);
      for (int i = 0; i < extra; ++i) aligned.push_back(1);
      for (std::size_t d : target) aligned.push_back(d);
      return reshape(sum_to(xk, aligned), batched(xk.shape()[0], target));
    });
  }
};

struct SliceOp {  // y = x[start:stop:step] along axis;  x̄ = unslice(g)
  static Tensor eval(const EvalArgs& e) {
    const Attrs& at = e.at();
    return slice(e.x(), at.axis, at.start, at.stop, at.step);
  }
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    const Attrs& at = a.at();
    if constexpr (std::is_same_v<X, Tensor>) {
      if (Tensor* acc = a.adjoint_to_add(0, a.x().shape())) {  // no zero-filled full-size cotangent
        slice_add(*acc, a.g, at.axis, at.start, at.stop, at.step, a.sign(0));
        return;
      }
    }
    gx[0] = unslice(a.g, a.x().shape(), at.axis, at.start, at.stop, at.step);
  }
  static void taylor(const TaylorArgs& t, Series& ys) {
    const Attrs& at = t.at();
    each_coefficient(t, 0, ys,
                     [&](const Tensor& xk) { return slice(xk, at.axis, at.start, at.stop, at.step); });
  }
};

struct UnsliceOp {  // y = zeros(s) with y[start:stop:step] = x;  x̄ = slice(g)
  static Tensor eval(const EvalArgs& e) {
    const Attrs& at = e.at();
    return unslice(e.x(), at.shape, at.axis, at.start, at.stop, at.step);
  }
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    const Attrs& at = a.at();
    gx[0] = slice(a.g, at.axis, at.start, at.stop, at.step);
  }
  static void taylor(const TaylorArgs& t, Series& ys) {
    const Attrs& at = t.at();
    each_coefficient(t, 0, ys, [&](const Tensor& xk) {
      return unslice(xk, batched(xk.shape()[0], at.shape), at.axis, at.start, at.stop, at.step);
    });
  }
};

struct GatherOp {  // y = take(x, idx, axis);  x̄ = scatter_add(g, idx, axis)
  static Tensor eval(const EvalArgs& e) { return gather(e.x(), indices_of(e.at()), e.at().axis); }
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    gx[0] = scatter_add(a.g, indices_of(a.at()), a.at().axis, a.x().shape());
  }
  static void taylor(const TaylorArgs& t, Series& ys) {
    each_coefficient(t, 0, ys, [&](const Tensor& xk) { return gather(xk, indices_of(t.at()), t.at().axis); });
  }
};

struct ScatterAddOp {  // y = zeros(s), y[idx] += x along axis;  x̄ = take(g, idx, axis)
  static Tensor eval(const EvalArgs& e) {
    return scatter_add(e.x(), indices_of(e.at()), e.at().axis, e.at().shape);
  }
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    gx[0] = gather(a.g, indices_of(a.at()), a.at().axis);
  }
  static void taylor(const TaylorArgs& t, Series& ys) {
    each_coefficient(t, 0, ys, [&](const Tensor& xk) {
      return scatter_add(xk, indices_of(t.at()), t.at().axis, batched(xk.shape()[0], t.at().shape));
    });
  }
};

}  // namespace jetgrad::rules
