// The single list of primitives. Each entry is X(Name, arity); the op enum, the name table and
// every sweep's dispatch are generated from it, and each Name has a rule struct `NameOp` in
// autodiff/ops/ holding its eval, vjp and Taylor rules side by side (a missing rule does not compile).
//
// Everything not listed here (mean, softmax, log_softmax, maximum, clamp, prod, concat, ...) is
// composed from these in autodiff/var.cpp, and so is differentiable by every sweep for free.
#pragma once

// One row per family: the formatter would scatter the macro.
// clang-format off
#define JETGRAD_PRIMITIVES(X)                                                                  \
  /* leaves */                                                                                 \
  X(Input, 0) X(Constant, 0)                                                                   \
  /* smooth elementwise unary */                                                               \
  X(Neg, 1) X(Exp, 1) X(Log, 1) X(Sin, 1) X(Cos, 1) X(Tan, 1) X(Tanh, 1) X(Sinh, 1) X(Cosh, 1) \
  X(Sqrt, 1) X(PowScalar, 1) X(Sigmoid, 1) X(Softplus, 1) X(Erf, 1)                            \
  /* piecewise-smooth elementwise unary (documented subgradients) */                           \
  X(Abs, 1) X(Relu, 1)                                                                         \
  /* elementwise binary */                                                                     \
  X(Add, 2) X(Sub, 2) X(Mul, 2) X(Div, 2)                                                      \
  /* elementwise with a constant operand kept in the entry: x + c, c - x, c x */               \
  X(AddConstant, 1) X(ConstantMinus, 1) X(MulConstant, 1)                                      \
  /* piecewise constant: comparisons give 0/1 masks, where selects */                          \
  X(Compare, 2) X(Where, 3) X(StopGradient, 1) X(Branch, 1)                                    \
  /* reductions */                                                                             \
  X(Sum, 1) X(Max, 1) X(LogSumExp, 1)                                                          \
  /* linear algebra */                                                                         \
  X(MatMul, 2)                                                                                 \
  /* layout (linear) */                                                                        \
  X(Reshape, 1) X(Transpose, 1) X(BroadcastTo, 1) X(SumTo, 1) X(Slice, 1) X(Unslice, 1)        \
  X(Gather, 1) X(ScatterAdd, 1)                                                                \
  /* user-defined primitives */                                                                \
  X(Custom, -1)
// clang-format on
