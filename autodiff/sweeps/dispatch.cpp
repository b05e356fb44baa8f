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

template void vjp_op<Tensor>(Op, const VjpArgs<Tensor>&, Cotangents<Tensor>&);
template void vjp_op<Var>(Op, const VjpArgs<Var>&, Cotangents<Var>&);

}  // namespace rules
}  // namespace jetgrad
