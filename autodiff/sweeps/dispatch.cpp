#include "autodiff/sweeps/dispatch.hpp"

#include <concepts>

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

template <class Rule, class X>
concept TakesOneG = requires(const VjpArgs<X>& a) {
  { Rule::takes_one_g(a) } -> std::same_as<bool>;
};

template <class Rule>
bool rule_takes_one_g(const VjpArgs<Var>& args) {
  if constexpr (TakesOneG<Rule, Var>)
    return Rule::takes_one_g(args);
  else
    return false;
}

bool takes_one_g(Op op, const VjpArgs<Var>& args) {
  switch (op) {
#define JETGRAD_OP_TAKES_ONE(name, arity) \
  case Op::name:                          \
    return rule_takes_one_g<name##Op>(args);
    JETGRAD_PRIMITIVES(JETGRAD_OP_TAKES_ONE)
#undef JETGRAD_OP_TAKES_ONE
  }
  return false;
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
concept DeferrableRule = requires(const EvalArgs& a, Tensor& out) {
  { Rule::layout(a) } -> std::same_as<Tensor>;
  Rule::eval_into(a, out);
};

bool op_is_deferrable(Op op) {
  switch (op) {
#define JETGRAD_OP_DEFERRABLE(name, arity) \
  case Op::name:                           \
    return DeferrableRule<name##Op>;
    JETGRAD_PRIMITIVES(JETGRAD_OP_DEFERRABLE)
#undef JETGRAD_OP_DEFERRABLE
  }
  return false;
}

template <class Rule>
Tensor layout_rule(const EvalArgs& args) {
  if constexpr (DeferrableRule<Rule>)
    return Rule::layout(args);
  else
    throw Error("internal: this op's value can not be deferred");
}

template <class Rule>
void eval_into_rule(const EvalArgs& args, Tensor& out) {
  if constexpr (DeferrableRule<Rule>)
    Rule::eval_into(args, out);
  else
    throw Error("internal: this op's value can not be deferred");
}

Tensor layout_op(Op op, const EvalArgs& args) {
  switch (op) {
#define JETGRAD_OP_LAYOUT(name, arity) \
  case Op::name:                       \
    return layout_rule<name##Op>(args);
    JETGRAD_PRIMITIVES(JETGRAD_OP_LAYOUT)
#undef JETGRAD_OP_LAYOUT
  }
  throw Error("internal: unknown op");
}

void eval_into_op(Op op, const EvalArgs& args, Tensor& out) {
  switch (op) {
#define JETGRAD_OP_EVAL_INTO(name, arity) \
  case Op::name:                          \
    eval_into_rule<name##Op>(args, out);  \
    return;
    JETGRAD_PRIMITIVES(JETGRAD_OP_EVAL_INTO)
#undef JETGRAD_OP_EVAL_INTO
  }
  throw Error("internal: unknown op");
}

template void vjp_op<Tensor>(Op, const VjpArgs<Tensor>&, Cotangents<Tensor>&);
template void vjp_op<Var>(Op, const VjpArgs<Var>&, Cotangents<Var>&);

}  // namespace rules
}  // namespace jetgrad
