// Var: a tensor being differentiated, i.e. a handle to an entry of a Tape.
//
//   Tape tape;
//   Var x = tape.variable(Tensor::from({3}, {0.5, 1.0, 2.0}));
//   Var y = sum(sin(x) * exp(x)) + 2.0;   // Tensor constants and numbers mix in freely
//   Tensor value = y.value();
//
// A Var is 16 bytes and cheap to copy; the value lives on the tape. Operations carry NumPy's
// names and broadcasting, the same names as the Tensor operations in autodiff/tensor_ops.hpp.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <vector>

#include "autodiff/tape.hpp"
#include "autodiff/tensor_ops.hpp"

namespace jetgrad {

class Var {
 public:
  Var() = default;  // not attached to any tape (make variables with Tape::variable / constant)

  const Tensor& value() const;
  // Shape and dtype come without computing a deferred value (Tape::value_layout).
  const Shape& shape() const { return layout().shape(); }
  DType dtype() const { return layout().dtype(); }
  int rank() const { return layout().rank(); }
  std::size_t numel() const { return layout().numel(); }
  double item() const { return value().item(); }

  Tape* tape() const { return tape_; }
  std::int32_t index() const { return index_; }
  std::uint32_t generation() const { return generation_; }
  bool attached() const { return tape_ != nullptr; }
  bool needs_grad() const;

 private:
  friend class Tape;
  const Tensor& layout() const;
  Var(Tape* tape, std::int32_t index, std::uint32_t generation)
      : tape_(tape), index_(index), generation_(generation) {}
  Tape* tape_ = nullptr;
  std::int32_t index_ = -1;
  std::uint32_t generation_ = 0;
};

// ---- elementwise, unary ---------------------------------------------------------------------------
Var operator-(const Var& x);
Var exp(const Var& x);
Var log(const Var& x);
Var sin(const Var& x);
Var cos(const Var& x);
Var tan(const Var& x);
Var tanh(const Var& x);
Var sinh(const Var& x);
Var cosh(const Var& x);
Var sqrt(const Var& x);
Var pow(const Var& x, double p);
Var square(const Var& x);
Var reciprocal(const Var& x);
Var sigmoid(const Var& x);
Var softplus(const Var& x);
Var erf(const Var& x);
// Subgradients at the kink: abs'(0) = 0, relu'(0) = 0.
Var abs(const Var& x);
Var relu(const Var& x);

// ---- elementwise, binary (broadcasting; Var, Tensor or number on either side) ---------------------
#define JETGRAD_DECLARE_BINARY(fn)       \
  Var fn(const Var& a, const Var& b);    \
  Var fn(const Var& a, const Tensor& b); \
  Var fn(const Tensor& a, const Var& b); \
  Var fn(const Var& a, double b);        \
  Var fn(double a, const Var& b);
JETGRAD_DECLARE_BINARY(operator+)
JETGRAD_DECLARE_BINARY(operator-)
JETGRAD_DECLARE_BINARY(operator*)
JETGRAD_DECLARE_BINARY(operator/)
// pow(a, b) = exp(b log a): defined for a > 0 (a NaN elsewhere, flagged by anomaly mode).
// pow(Var, double) is the primitive x^p above, defined for every x.
Var pow(const Var& a, const Var& b);
Var pow(const Var& a, const Tensor& b);
Var pow(const Tensor& a, const Var& b);
Var pow(double a, const Var& b);
// maximum/minimum: at ties the gradient goes to the first operand.
JETGRAD_DECLARE_BINARY(maximum)
JETGRAD_DECLARE_BINARY(minimum)
// Comparisons give 0/1 masks (no gradient). They are recorded, so a replay recomputes them.
JETGRAD_DECLARE_BINARY(less)
JETGRAD_DECLARE_BINARY(less_equal)
JETGRAD_DECLARE_BINARY(greater)
JETGRAD_DECLARE_BINARY(greater_equal)
JETGRAD_DECLARE_BINARY(equal)
JETGRAD_DECLARE_BINARY(not_equal)
#undef JETGRAD_DECLARE_BINARY

// cond ? a : b elementwise (cond nonzero is true); no gradient flows into cond.
Var where(const Var& cond, const Var& a, const Var& b);
Var where(const Var& cond, const Var& a, double b);
Var where(const Var& cond, double a, const Var& b);
// min(max(x, lo), hi); at the bounds the gradient passes (subgradient 1).
Var clamp(const Var& x, double lo, double hi);

// The value of x, with no gradient flowing back through it (JAX's stop_gradient, torch's detach).
Var stop_gradient(const Var& x);

// Value-dependent control flow that survives replay: returns whether every element of `cond`
// is nonzero, and records that outcome. A replay whose outcome differs throws TapeError.
//   if (branch(x > 0.0)) y = log(x); else y = -x;
bool branch(const Var& cond);
inline Var operator<(const Var& a, double b) { return less(a, b); }
inline Var operator<=(const Var& a, double b) { return less_equal(a, b); }
inline Var operator>(const Var& a, double b) { return greater(a, b); }
inline Var operator>=(const Var& a, double b) { return greater_equal(a, b); }
inline Var operator<(const Var& a, const Var& b) { return less(a, b); }
inline Var operator<=(const Var& a, const Var& b) { return less_equal(a, b); }
inline Var operator>(const Var& a, const Var& b) { return greater(a, b); }
inline Var operator>=(const Var& a, const Var& b) { return greater_equal(a, b); }

Var& operator+=(Var& a, const Var& b);
Var& operator-=(Var& a, const Var& b);
Var& operator*=(Var& a, const Var& b);
Var& operator/=(Var& a, const Var& b);

// ---- reductions (every element, or along one axis) -------------------------------------------------
Var sum(const Var& x);
Var sum(const Var& x, int axis, bool keepdims = false);
Var mean(const Var& x);
Var mean(const Var& x, int axis, bool keepdims = false);
// max/min: at ties the gradient is shared equally among the tied elements.
Var max(const Var& x);
Var max(const Var& x, int axis, bool keepdims = false);
Var min(const Var& x);
Var min(const Var& x, int axis, bool keepdims = false);
// prod: exact at zeros too (a balanced tree of products, no division).
Var prod(const Var& x);
Var prod(const Var& x, int axis, bool keepdims = false);
Var logsumexp(const Var& x);
Var logsumexp(const Var& x, int axis, bool keepdims = false);
Var softmax(const Var& x, int axis = -1);
Var log_softmax(const Var& x, int axis = -1);

// ---- linear algebra --------------------------------------------------------------------------------
Var matmul(const Var& a, const Var& b);
Var matmul(const Var& a, const Var& b, Transposed t);  // see tensor_ops.hpp
Var matmul(const Var& a, const Tensor& b);
Var matmul(const Tensor& a, const Var& b);
Var matmul(const Var& a, const Tensor& b, Transposed t);
Var matmul(const Tensor& a, const Var& b, Transposed t);

// ---- layout ----------------------------------------------------------------------------------------
Var reshape(const Var& x, const Shape& shape);
Var transpose(const Var& x);
Var transpose(const Var& x, std::span<const int> perm);
Var transpose(const Var& x, std::initializer_list<int> perm);
Var broadcast_to(const Var& x, const Shape& shape);
Var sum_to(const Var& x, const Shape& shape);
Var slice(const Var& x, int axis, std::ptrdiff_t start, std::ptrdiff_t stop, std::ptrdiff_t step = 1);
Var unslice(const Var& x, const Shape& shape, int axis, std::ptrdiff_t start, std::ptrdiff_t stop,
            std::ptrdiff_t step = 1);
Var concat(std::span<const Var> parts, int axis);
Var concat(std::initializer_list<Var> parts, int axis);
Var gather(const Var& x, std::span<const std::size_t> indices, int axis);
Var scatter_add(const Var& x, std::span<const std::size_t> indices, int axis, const Shape& shape);

}  // namespace jetgrad
