#include "autodiff/sweeps/dispatch.hpp"

#include "autodiff/ops/elementwise.hpp"
#include "autodiff/ops/layout.hpp"
#include "autodiff/ops/leaves.hpp"
#include "autodiff/ops/linalg.hpp"
#include "autodiff/ops/reductions.hpp"

namespace jetgrad {

const char* op_name(Op op) {
  switch (op) {
#define JETGRAD_OP_NAME(name, arity) \
  case Op::name:                     \
    return #name;
    JETGRAD_PRIMITIVES(JETGRAD_OP_NAME)
#undef JETGRAD_OP_NAME
  }
  return "?";
}

namespace rules {

Tensor eval_op(Op op, const EvalArgs& args) {
  switch (op) {
#define JETGRAD_OP_EVAL(name, arity) \
  case Op::name:                     \
    return name##Op::eval(args);
    JETGRAD_PRIMITIVES(JETGRAD_OP_EVAL)
#undef JETGRAD_OP_EVAL
  }
  throw Error("internal: unknown op");
}

template <class X>
void vjp_op(Op op, const VjpArgs<X>& args, Cotangents<X>& cotangents) {
  switch (op) {
#define JETGRAD_OP_VJP(name, arity)              \
  case Op::name:                                 \
    name##Op::template vjp<X>(args, cotangents); \
    return;
    JETGRAD_PRIMITIVES(JETGRAD_OP_VJP)
#undef JETGRAD_OP_VJP
  }
  throw Error("internal: unknown op");
}

void taylor_op(Op op, const TaylorArgs& args, Series& out) {
  switch (op) {
#define JETGRAD_OP_TAYLOR(name, arity) \
  case Op::name:                       \
    name##Op::taylor(args, out);       \
    return;
    JETGRAD_PRIMITIVES(JETGRAD_OP_TAYLOR)
#undef JETGRAD_OP_TAYLOR
  }
  throw Error("internal: unknown op");
}

template <class Rule>
concept ScalarLaneRule = requires(const EvalArgsT<Real>& a) {
  Rule::template eval<Real>(a);
};

bool in_scalar_lane(Op op) {
  switch (op) {
#define JETGRAD_OP_LANE(name, arity) \
  case Op::name:                     \
    return ScalarLaneRule<name##Op>;
    JETGRAD_PRIMITIVES(JETGRAD_OP_LANE)
#undef JETGRAD_OP_LANE
  }
  return false;
}

template <class Rule>
Real eval_scalar_rule(const EvalArgsT<Real>& args) {
  if constexpr (ScalarLaneRule<Rule>)
    return Rule::template eval<Real>(args);
  else
    throw Error("internal: this op is not in the scalar lane");
}

template <class Rule>
void vjp_scalar_rule(const VjpArgs<Real>& args, Cotangents<Real>& cotangents) {
  if constexpr (ScalarLaneRule<Rule>)
    Rule::template vjp<Real>(args, cotangents);
  else
    throw Error("internal: this op is not in the scalar lane");
}

Real eval_scalar(Op op, const EvalArgsT<Real>& args) {
  switch (op) {
#define JETGRAD_OP_EVAL_SCALAR(name, arity) \
  case Op::name:                            \
    return eval_scalar_rule<name##Op>(args);
    JETGRAD_PRIMITIVES(JETGRAD_OP_EVAL_SCALAR)
#undef JETGRAD_OP_EVAL_SCALAR
  }
  throw Error("internal: unknown op");
}

void vjp_scalar(Op op, const VjpArgs<Real>& args, Cotangents<Real>& cotangents) {
  switch (op) {
#define JETGRAD_OP_VJP_SCALAR(name, arity)       \
  case Op::name:                                 \
    vjp_scalar_rule<name##Op>(args, cotangents); \
    return;
    JETGRAD_PRIMITIVES(JETGRAD_OP_VJP_SCALAR)
#undef JETGRAD_OP_VJP_SCALAR
  }
  throw Error("internal: unknown op");
}

template void vjp_op<Tensor>(Op, const VjpArgs<Tensor>&, Cotangents<Tensor>&);
template void vjp_op<Var>(Op, const VjpArgs<Var>&, Cotangents<Var>&);

bool op_is_differentiable(Op op) {
  switch (op) {
    case Op::Input:
      return true;
    case Op::Constant:
    case Op::Compare:
    case Op::StopGradient:
    case Op::Branch:
      return false;
    default:
      return true;
  }
}

}  // namespace rules
}  // namespace jetgrad
