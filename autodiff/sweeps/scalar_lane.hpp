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
template <class Rule, int Arity>
inline double eval_real_rule(const double* in, const Attrs* attrs) {
  if constexpr (ScalarLaneRule<Rule> && Arity > 0) {
    std::array<Real, Arity> x;
    EvalArgsT<Real> args;
    args.num_inputs = Arity;
    args.attrs = attrs;
    for (std::size_t k = 0; k < Arity; ++k) {
      x[k].v = in[k];
      args.in[k] = &x[k];
    }
    return Rule::template eval<Real>(args).v;
  } else {
    throw Error("internal: this op is not in the scalar lane");
  }
}

// The op's value at its inputs' values in[].
inline double eval_real(Op op, const double* in, const Attrs* attrs) {
  switch (op) {
#define JETGRAD_OP_EVAL_REAL(name, arity) \
  case Op::name:                          \
    return eval_real_rule<name##Op, arity>(in, attrs);
    JETGRAD_PRIMITIVES(JETGRAD_OP_EVAL_REAL)
#undef JETGRAD_OP_EVAL_REAL
  }
  throw Error("internal: unknown op");
}

template <class Rule, int Arity>
[[gnu::always_inline]] inline void vjp_real_rule(double g, double out, const double* in, const bool* wanted,
                                                 const Attrs* attrs, double* gin) {
  if constexpr (ScalarLaneRule<Rule> && Arity > 0) {
    std::array<Real, Arity> x;
    const Real g_real{g}, out_real{out};
    VjpArgs<Real> args{g_real, {}, out_real, attrs};
    for (std::size_t k = 0; k < Arity; ++k) {
      x[k].v = in[k];
      args.in[k] = &x[k];
      args.wanted[k] = wanted[k];
    }
    Cotangents<Real> cotangents;
    Rule::template vjp<Real>(args, cotangents);
    for (std::size_t k = 0; k < Arity; ++k)
      gin[k] = cotangents[k] ? cotangents[k]->v : 0.0;  // symbolic zero: 0
  } else {
    throw Error("internal: this op is not in the scalar lane");
  }
}

// The inputs' cotangents gin[], given the output's cotangent g and value out. Forced inline: the
// reverse sweep's lane step is this switch, and a call would pass every operand through memory.
[[gnu::always_inline]] inline void vjp_real(Op op, double g, double out, const double* in, const bool* wanted,
                                            const Attrs* attrs, double* gin) {
  switch (op) {
#define JETGRAD_OP_VJP_REAL(name, arity)                            \
  case Op::name:                                                    \
    vjp_real_rule<name##Op, arity>(g, out, in, wanted, attrs, gin); \
    return;
    JETGRAD_PRIMITIVES(JETGRAD_OP_VJP_REAL)
#undef JETGRAD_OP_VJP_REAL
  }
  throw Error("internal: unknown op");
}

}  // namespace jetgrad::rules
