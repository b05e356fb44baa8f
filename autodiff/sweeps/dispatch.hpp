// Dispatch from an entry's op to its rule struct, generated from op_list.hpp. Internal.
#pragma once

#include "autodiff/ops/real.hpp"
#include "autodiff/ops/rule_support.hpp"
#include "autodiff/ops/taylor_rules.hpp"

namespace jetgrad::rules {

Tensor eval_op(Op op, const EvalArgs& args);

template <class X>
void vjp_op(Op op, const VjpArgs<X>& args, Cotangents<X>& cotangents);

extern template void vjp_op<Tensor>(Op, const VjpArgs<Tensor>&, Cotangents<Tensor>&);
extern template void vjp_op<Var>(Op, const VjpArgs<Var>&, Cotangents<Var>&);

void taylor_op(Op op, const TaylorArgs& args, Series& out);

// Recorded sweeps: whether the op's reverse rule uses VjpArgs::g_is_one for these arguments.
bool takes_one_g(Op op, const VjpArgs<Var>& args);

// Ops whose value the tape may defer until first read (rules with `layout` and `eval_into`): the
// result's uninitialized tensor of the right shape and dtype, and the value computed into it.
bool op_is_deferrable(Op op);
Tensor layout_op(Op op, const EvalArgs& args);
void eval_into_op(Op op, const EvalArgs& args, Tensor& out);

// The scalar lane's dispatch is inline, in scalar_lane.hpp.

// Whether gradients can flow through the op at all (false for piecewise-constant ones).
inline bool op_is_differentiable(Op op) {
  return op != Op::Constant && op != Op::Compare && op != Op::StopGradient && op != Op::Branch;
}

}  // namespace jetgrad::rules
