// What every primitive's rules see. Internal to the sweeps; users never include it.
//
// A rule struct `NameOp` for each entry of op_list.hpp has:
//   static Tensor eval(const EvalArgs&)                      the value (a template over X for
//                                                            elementwise ops: see ops/real.hpp)
//   template <class X> static void vjp(const VjpArgs<X>&, Cotangents<X>&)
//                                                            the reverse rule, written once with
//                                                            operations that exist for both Tensor
//                                                            (plain sweeps) and Var (recorded sweeps)
// A cotangent left empty is a symbolic zero: no work is done for it. Rules of several inputs skip the
// cotangents the sweep does not want (inputs no differentiated input reaches: a layer's data, the
// constant side of a product), which would be computed only to be dropped.
#pragma once

#include <array>
#include <cmath>
#include <optional>
#include <type_traits>

#include "autodiff/tape.hpp"
#include "autodiff/tensor_ops.hpp"
#include "autodiff/var.hpp"

namespace jetgrad::rules {

// Elementwise rules take their eval over X (Tensor, or Real in the scalar lane); the others over Tensor.
template <class X>
struct EvalArgsT {
  std::array<const X*, Node::max_inputs> in{};
  int num_inputs = 0;
  const Attrs* attrs = nullptr;  // never null for ops that take attributes
  double constant = 0.0;         // Node::constant(), for the ops with a constant operand

  const X& x(int i = 0) const { return *in[static_cast<std::size_t>(i)]; }
  const Attrs& at() const { return *attrs; }
};
using EvalArgs = EvalArgsT<Tensor>;

// A rule's cotangents, one per input; an empty one is a symbolic zero. In value sweeps input k's
// contribution is scale[k] · g[k]: a linear rule (-x, c·x, c - x, a - b) hands g on with a factor
// instead of a pass over it, and the sweep applies factors only where it must (two adjoints of
// different factors meet, a gradient is handed out). Recorded sweeps and the scalar lane multiply
// at once.
template <class X>
struct Cotangents {
  std::array<std::optional<X>, Node::max_inputs> g;
  std::array<double, Node::max_inputs> scale{1.0, 1.0, 1.0, 1.0};
  // Recorded sweeps: cotangent k is 1 at every element of input k's shape (g[k] is then the
  // incoming one, a placeholder); see VjpArgs::g_is_one.
  std::array<bool, Node::max_inputs> one{};

  std::optional<X>& operator[](std::size_t k) { return g[k]; }
  void set_one(std::size_t k, const X& placeholder) {
    g[k] = placeholder;
    one[k] = true;
  }
  // alpha x as input k's contribution.
  void set_scaled(std::size_t k, X x, double alpha) {
    if constexpr (std::is_same_v<X, Tensor>) {
      g[k] = std::move(x);
      scale[k] = alpha;
    } else {
      g[k] = alpha == -1.0 ? -x : alpha * x;
    }
  }
};

template <class X>
struct VjpArgs {
  const X& g;  // the output's cotangent
  std::array<const X*, Node::max_inputs> in{};
  const X& out;  // the output's value
  const Attrs* attrs = nullptr;
  double constant = 0.0;  // Node::constant(), for the ops with a constant operand
  std::array<bool, Node::max_inputs> wanted{true, true, true, true};
  // The value sweep offers each input's adjoint accumulated so far (null for a first contribution,
  // in recorded sweeps and in anomaly mode). A rule may add its contribution into it in place,
  // saving the temporary and the sweep's separate addition, and then leaves that cotangent empty.
  // It adds add_sign[k] times its contribution: adjoints and g may hold factors of opposite sign
  // (Cotangents::scale; adjoints are offered only when the factors agree up to sign).
  std::array<Tensor*, Node::max_inputs> adjoint{};
  std::array<double, Node::max_inputs> add_sign{1.0, 1.0, 1.0, 1.0};
  // Recorded sweeps: g is 1 at every element (a gradient's seed, handed on through sums and
  // additions), set only for rules whose takes_one_g(args) says they use it. A rule then records
  // nothing for a multiplication by g (a product hands each input the other factor).
  bool g_is_one = false;
  // The sweep's own tensor of g when this step is g's last use (value sweeps; see spare_g).
  Tensor* spent_g = nullptr;

  const X& x(int i = 0) const { return *in[static_cast<std::size_t>(i)]; }
  const Attrs& at() const { return *attrs; }
  bool wants(int i) const { return wanted[static_cast<std::size_t>(i)]; }
  // Input i's adjoint to add into, if offered and wanted, and if a contribution of shape `s` (the
  // rule's, before any sum_to) has its shape; otherwise null and the rule returns its cotangent.
  Tensor* adjoint_to_add(int i, const Shape& s) const {
    Tensor* acc = adjoint[static_cast<std::size_t>(i)];
    return acc != nullptr && wants(i) && acc->shape() == s ? acc : nullptr;
  }
  // g itself, if the sweep hands it over and no other tensor shares its buffer: a rule may then
  // write a cotangent over it (moving it into mul_cotangents(Tensor&&, ...), say) instead of taking
  // a new buffer. g is the same object, so the rule reads g no more once it has moved it.
  Tensor* spare_g() const {
    if constexpr (std::is_same_v<X, Tensor>)
      if (spent_g != nullptr && !spent_g->shares_buffer()) return spent_g;
    return nullptr;
  }
  // g for a kernel that may write over it: spare_g moved out when offered (the rule then reads g
  // no more), else a copy sharing g's buffer (the kernel then takes a new one).
  X take_g() const {
    if constexpr (std::is_same_v<X, Tensor>)
      if (Tensor* own = spare_g()) return std::move(*own);
    return g;
  }
  double sign(int i) const { return add_sign[static_cast<std::size_t>(i)]; }
  // No input is broadcast: each has the output's shape.
  bool inputs_have_output_shape() const {
    for (const X* x : in)
      if (x != nullptr && !(x->shape() == out.shape())) return false;
    return true;
  }
};

// A number with the dtype of x (and, for Var, on x's tape), for rules written once for both.
inline Tensor scalar_like(const Tensor& x, double v) { return Tensor(v, x.dtype()); }
inline Var scalar_like(const Var& x, double v) { return x.tape()->constant(Tensor(v, x.dtype())); }

// alpha a b for variables: the products of jetgrad::scaled_product, the fused pass over values
// (found by argument-dependent lookup for Tensor), recorded.
inline Var scaled_product(const Var& a, const Var& b, double alpha) { return a * b * alpha; }
inline std::pair<Var, Var> mul_cotangents(const Var& g, const Var& a, const Var& b) { return {g * b, g * a}; }

// The shape `x` has after a keepdims reduction, and the cotangent g viewed with it.
inline Shape keepdims_shape(const Shape& x, const Attrs& at) {
  if (at.axis == Attrs::all_axes) {
    Shape s;
    for (int i = 0; i < x.rank(); ++i) s.push_back(1);
    return s;
  }
  return reduced_shape(x, at.axis, /*keepdims=*/true);
}
template <class X>
X expand_reduced(const X& g, const Shape& input_shape, const Attrs& at) {
  return broadcast_to(reshape(g, keepdims_shape(input_shape, at)), input_shape);
}

}  // namespace jetgrad::rules
