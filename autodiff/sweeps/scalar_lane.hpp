// The scalar lane's rule dispatch, inline so that the sweeps' loops compile each op's double
// arithmetic in place: no argument structs through memory, no call per entry. The rules are the
// primitives' own (ops/*.hpp), instantiated on Real (ops/real.hpp). Internal.
#pragma once

#include "autodiff/ops/elementwise.hpp"
#include "autodiff/ops/layout.hpp"
#include "autodiff/ops/leaves.hpp"
#include "autodiff/ops/linalg.hpp"
#include "autodiff/ops/real.hpp"
#include "autodiff/ops/reductions.hpp"
#include "autodiff/tape.hpp"

namespace jetgrad::rules {

template <class Rule>
concept ScalarLaneRule = requires(const EvalArgsT<Real>& a) {
  Rule::template eval<Real>(a);
};

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
// input(k) gives the k-th input's value.
template <class Rule, int Arity, class Input>
[[gnu::always_inline]] inline double eval_real_rule(const Input& input, const Attrs* attrs) {
  if constexpr (ScalarLaneRule<Rule> && Arity > 0) {
    std::array<Real, Arity> x;
    EvalArgsT<Real> args;
    args.num_inputs = Arity;
    args.attrs = attrs;
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
template <class Input>
[[gnu::always_inline]] inline double eval_real(Op op, const Input& input, const Attrs* attrs) {
  switch (op) {
#define JETGRAD_OP_EVAL_REAL(name, arity) \
  case Op::name:                          \
    return eval_real_rule<name##Op, arity>(input, attrs);
    JETGRAD_PRIMITIVES(JETGRAD_OP_EVAL_REAL)
#undef JETGRAD_OP_EVAL_REAL
  }
  throw Error("internal: unknown op");
}

template <class Rule, int Arity, class Add>
[[gnu::always_inline]] inline void vjp_real_rule(double g, double out, const std::int32_t* inputs,
                                                 const double* reals, const Attrs* attrs, Add& add) {
  if constexpr (ScalarLaneRule<Rule> && Arity > 0) {
    std::array<Real, Arity> x;
    const Real g_real{g}, out_real{out};
    VjpArgs<Real> args{g_real, {}, out_real, attrs};
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
template <class Add>
[[gnu::always_inline]] inline void vjp_real(Op op, double g, double out, const std::int32_t* inputs,
                                            const double* reals, const Attrs* attrs, Add& add) {
  switch (op) {
#define JETGRAD_OP_VJP_REAL(name, arity)                               \
  case Op::name:                                                       \
    vjp_real_rule<name##Op, arity>(g, out, inputs, reals, attrs, add); \
    return;
    JETGRAD_PRIMITIVES(JETGRAD_OP_VJP_REAL)
#undef JETGRAD_OP_VJP_REAL
  }
  throw Error("internal: unknown op");
}

}  // namespace jetgrad::rules
