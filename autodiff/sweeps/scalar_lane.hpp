// The scalar lane: its rule dispatch, inline so that the sweeps' loops compile each op's double
// arithmetic in place (no argument structs through memory, no call per entry), and scalar code's
// recording path (Tape::record_in_lane, inlined into Var's operators) with the entry bookkeeping it
// shares with every recording path (Tape::link). The rules are the primitives' own (ops/*.hpp),
// instantiated on Real (ops/real.hpp). Internal.
#pragma once

#include "autodiff/ops/elementwise.hpp"
#include "autodiff/ops/layout.hpp"
#include "autodiff/ops/leaves.hpp"
#include "autodiff/ops/linalg.hpp"
#include "autodiff/ops/real.hpp"
#include "autodiff/ops/reductions.hpp"
#include "autodiff/sweeps/dispatch.hpp"
#include "autodiff/tape.hpp"
#include "autodiff/var.hpp"

namespace jetgrad::rules {

template <class Rule>
concept ScalarLaneRule = requires(const EvalArgsT<Real>& a) {
  Rule::template eval<Real>(a);
};

// The rule struct of an op and its arity, at compile time.
template <Op op>
struct RuleFor;
#define JETGRAD_OP_RULE_FOR(name, arity_)        \
  template <>                                    \
  struct RuleFor<Op::name> {                     \
    using type = name##Op;                       \
    static constexpr std::size_t arity = arity_; \
  };
JETGRAD_PRIMITIVES(JETGRAD_OP_RULE_FOR)
#undef JETGRAD_OP_RULE_FOR

// Ops whose entry keeps a number (Node::constant) in its unused input slots: the rules that
// declare `has_constant`.
template <class Rule>
concept ConstantOperandRule = Rule::has_constant;
constexpr bool op_has_constant(Op op) {
  switch (op) {
#define JETGRAD_OP_HAS_CONSTANT(name, arity) \
  case Op::name:                             \
    return ConstantOperandRule<name##Op>;
    JETGRAD_PRIMITIVES(JETGRAD_OP_HAS_CONSTANT)
#undef JETGRAD_OP_HAS_CONSTANT
  }
  return false;
}

// Whether the op's rules run on plain doubles (used when every input is a 0-d float64).
inline bool in_scalar_lane(Op op) {
  switch (op) {
#define JETGRAD_OP_LANE(name, arity) \
  case Op::name:                     \
    return ScalarLaneRule<name##Op>;
    JETGRAD_PRIMITIVES(JETGRAD_OP_LANE)
#undef JETGRAD_OP_LANE
  }
  return false;
}

// Arity is the op list's (a compile-time count, so the copies below are a few register moves).
// input(k) gives the k-th input's value; attrs() the entry's attributes, asked for only by the
// rules that read them (the sweeps' loops would otherwise look them up for every entry).
template <class Rule, int Arity, class Input, class AttrsOf>
[[gnu::always_inline]] inline double eval_real_rule(const Input& input, const AttrsOf& attrs,
                                                    double constant) {
  if constexpr (ScalarLaneRule<Rule> && Arity > 0) {
    std::array<Real, Arity> x;
    EvalArgsT<Real> args;
    args.num_inputs = Arity;
    args.attrs = attrs();
    args.constant = constant;
    for (std::size_t k = 0; k < Arity; ++k) {
      x[k].v = input(k);
      args.in[k] = &x[k];
    }
    return Rule::template eval<Real>(args).v;
  } else {
    throw Error("internal: this op is not in the scalar lane");
  }
}

// The op's value at its inputs' values input(0), input(1), ... Forced inline, so that replay's
// loop and scalar recording read the inputs straight into registers.
template <class Input, class AttrsOf>
[[gnu::always_inline]] inline double eval_real(Op op, const Input& input, const AttrsOf& attrs,
                                               double constant) {
  switch (op) {
#define JETGRAD_OP_EVAL_REAL(name, arity) \
  case Op::name:                          \
    return eval_real_rule<name##Op, arity>(input, attrs, constant);
    JETGRAD_PRIMITIVES(JETGRAD_OP_EVAL_REAL)
#undef JETGRAD_OP_EVAL_REAL
  }
  throw Error("internal: unknown op");
}

template <class Rule, int Arity, class AttrsOf, class Add>
[[gnu::always_inline]] inline void vjp_real_rule(double g, double out, const std::int32_t* inputs,
                                                 const double* reals, const AttrsOf& attrs, double constant,
                                                 Add& add) {
  if constexpr (ScalarLaneRule<Rule> && Arity > 0) {
    std::array<Real, Arity> x;
    const Real g_real{g}, out_real{out};
    VjpArgs<Real> args{g_real, {}, out_real, attrs()};
    args.constant = constant;
    for (std::size_t k = 0; k < Arity; ++k) {
      x[k].v = reals[inputs[k]];
      args.in[k] = &x[k];
    }
    Cotangents<Real> cotangents;
    Rule::template vjp<Real>(args, cotangents);
    for (std::size_t k = 0; k < Arity; ++k)
      if (cotangents[k]) add(inputs[k], cotangents[k]->v);  // none: a symbolic zero
  } else {
    throw Error("internal: this op is not in the scalar lane");
  }
}

// One reverse step of a lane entry: given its cotangent g and value out, hands each input's
// cotangent to add(input entry, double). Inputs' values are read from the tape's array of reals.
// Forced inline: the reverse sweep's lane loop is this switch, and a call would pass every
// operand through memory.
template <class AttrsOf, class Add>
[[gnu::always_inline]] inline void vjp_real(Op op, double g, double out, const std::int32_t* inputs,
                                            const double* reals, const AttrsOf& attrs, double constant,
                                            Add& add) {
  switch (op) {
#define JETGRAD_OP_VJP_REAL(name, arity)                                         \
  case Op::name:                                                                 \
    vjp_real_rule<name##Op, arity>(g, out, inputs, reals, attrs, constant, add); \
    return;
    JETGRAD_PRIMITIVES(JETGRAD_OP_VJP_REAL)
#undef JETGRAD_OP_VJP_REAL
  }
  throw Error("internal: unknown op");
}

}  // namespace jetgrad::rules

namespace jetgrad {

// A new entry's input links, needs_grad and attributes: the tail every recording path shares.
[[gnu::always_inline]] inline void Tape::link(Node& node, std::span<const Var> inputs, bool inputs_need_grad,
                                              const Attrs* attrs, double constant) {
  node.num_inputs = static_cast<std::uint8_t>(inputs.size());
  for (std::size_t k = 0; k < inputs.size(); ++k) node.inputs[k] = inputs[k].index_;
  if (rules::op_has_constant(node.op)) node.set_constant(constant);
  node.needs_grad = inputs_need_grad && rules::op_is_differentiable(node.op) && !NoGrad::active();
  if (attrs != nullptr) {
    tables_[nodes_.size() - 1].attrs = static_cast<std::int32_t>(attrs_.size());
    attrs_.emplace_back(*attrs);
  }
}

// The per-operation cost of scalar code is this function, inlined into the operation: checks,
// the rule on doubles and the entry, with nothing out of line on the success path.
template <Op op, std::size_t N>
[[gnu::always_inline]] inline Var Tape::record_in_lane(std::span<const Var, N> inputs, const Attrs* attrs,
                                                       double constant) {
  static_assert(rules::ScalarLaneRule<typename rules::RuleFor<op>::type> && N == rules::RuleFor<op>::arity);
  if (std::this_thread::get_id() != owner_) check_thread(op_name(op));
  std::array<double, N> values;
  bool inputs_need_grad = false;
  for (std::size_t k = 0; k < N; ++k) {
    const Var& v = inputs[k];
    if (v.tape_ != this || v.generation_ != generation_) check_var(v, op_name(op));
    const auto index = static_cast<std::size_t>(v.index_);
    const Node& in = nodes_[index];
    if (!in.real) return Var();
    inputs_need_grad |= in.needs_grad;
    values[k] = reals_[index];
  }
  const auto input = [&](std::size_t k) { return values[k]; };
  const auto attrs_of = [attrs] { return attrs; };
  const double value = rules::eval_real_rule<typename rules::RuleFor<op>::type, N>(input, attrs_of, constant);
  if (detect_anomaly_ && !std::isfinite(value)) throw_non_finite(nodes_.size(), op, value);
  Node& node = new_entry(op);
  node.real = true;
  node.scalar_lane = true;
  link(node, inputs, inputs_need_grad, attrs, constant);
  reals_.push_back(value);
  return Var(this, static_cast<std::int32_t>(nodes_.size() - 1), generation_);
}

}  // namespace jetgrad
