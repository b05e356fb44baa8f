// Operations on Tensor values (no differentiation): NumPy names, NumPy broadcasting.
// Elementwise maths is vectorized with xsimd, reductions have their own xsimd kernels,
// matmul goes to BLAS (sgemm/dgemm). Both operands of a binary op must share a dtype
// (DTypeError otherwise); a plain number takes the tensor's dtype.
//
// The same names exist for Var (autodiff/var.hpp), so a rule written once as a template works on
// values (fast sweeps) and on variables (recorded sweeps, for derivatives of derivatives).
#pragma once

#include <cstddef>
#include <span>
#include <utility>
#include <vector>

#include "autodiff/tensor.hpp"

namespace jetgrad {

// ---- elementwise, unary ---------------------------------------------------------------------
Tensor operator-(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sin(const Tensor& x);
Tensor cos(const Tensor& x);
Tensor tan(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sinh(const Tensor& x);
Tensor cosh(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor sign(const Tensor& x);  // -1, 0 or 1
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor softplus(const Tensor& x);  // log(1 + exp(x)), computed without overflow
Tensor erf(const Tensor& x);
Tensor square(const Tensor& x);
Tensor reciprocal(const Tensor& x);
Tensor pow(const Tensor& x, double p);

// ---- elementwise, binary (broadcasting) ----------------------------------------------------------
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);

Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);

// In-place accumulation, a += b with b broadcast to a's shape (a's shape never changes).
Tensor& operator+=(Tensor& a, const Tensor& b);
// In-place updates through BLAS level 1 (same shape and dtype): y += alpha x, and y *= alpha.
void axpy(double alpha, const Tensor& x, Tensor& y);
void scale(Tensor& y, double alpha);
// acc += alpha · a ⊙ b, fused (one rounding of each a b alpha + acc) when a and b hold their
// elements as acc does (one shape up to leading axes of length 1; or b one element broadcast) and
// all share a dtype; else through the broadcasting ops.
void add_product(Tensor& acc, const Tensor& a, const Tensor& b, double alpha = 1.0);
// alpha · a ⊙ b in one pass when a and b have one shape and dtype (else through the broadcasting
// ops); the same numbers as a * b * alpha.
Tensor scaled_product(const Tensor& a, const Tensor& b, double alpha);
// The same, written over a's buffer when a is the only holder of it and b has its shape and dtype.
Tensor scaled_product(Tensor&& a, const Tensor& b, double alpha);
// The cotangents of a product a ⊙ b, {g ⊙ b, g ⊙ a}, in one pass when all three have one shape and
// dtype (else through the broadcasting ops); the same numbers as g * b and g * a.
std::pair<Tensor, Tensor> mul_cotangents(const Tensor& g, const Tensor& a, const Tensor& b);
// The same, g ⊙ b written over g's buffer when g is the only holder of it (the reverse sweep hands
// over a cotangent at its last use) and the three share a shape and dtype.
std::pair<Tensor, Tensor> mul_cotangents(Tensor&& g, const Tensor& a, const Tensor& b);

// Comparisons give 1 where true and 0 where false, in the operands' dtype.
Tensor less(const Tensor& a, const Tensor& b);
Tensor less_equal(const Tensor& a, const Tensor& b);
Tensor greater(const Tensor& a, const Tensor& b);
Tensor greater_equal(const Tensor& a, const Tensor& b);
Tensor equal(const Tensor& a, const Tensor& b);
Tensor not_equal(const Tensor& a, const Tensor& b);

// cond ? a : b elementwise (cond nonzero means true), all three broadcast together.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor clamp(const Tensor& x, double lo, double hi);

// ---- reductions (all elements, or along one axis) ----------------------------------------------
Tensor sum(const Tensor& x);
Tensor sum(const Tensor& x, int axis, bool keepdims = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, int axis, bool keepdims = false);
Tensor max(const Tensor& x);
Tensor max(const Tensor& x, int axis, bool keepdims = false);
Tensor min(const Tensor& x);
Tensor min(const Tensor& x, int axis, bool keepdims = false);
Tensor prod(const Tensor& x);
Tensor prod(const Tensor& x, int axis, bool keepdims = false);
Tensor logsumexp(const Tensor& x);  // max-shifted, never overflows
Tensor logsumexp(const Tensor& x, int axis, bool keepdims = false);
// Σ a_i b_i over all elements (same element count, any dtypes), summed in double whatever the
// dtypes: the global norms and inner products of parameter vectors (optim).
double dot_f64(const Tensor& a, const Tensor& b);
// Index of the first largest element (flat index for the all-elements form), stored as float64
// (exact for every index below 2^53).
Tensor argmax(const Tensor& x);
Tensor argmax(const Tensor& x, int axis, bool keepdims = false);

Tensor softmax(const Tensor& x, int axis = -1);
Tensor log_softmax(const Tensor& x, int axis = -1);

// ---- linear algebra ----------------------------------------------------------------------------
// NumPy matmul: 1-D operands are promoted (and the added axis removed again), leading batch axes
// broadcast; each 2-D product is one BLAS gemm call.
Tensor matmul(const Tensor& a, const Tensor& b);

// Which operands enter a product transposed (their last two axes swapped; rank >= 2). BLAS reads them
// so through its trans flags, with no copy: matmul(a, b, {.b = true}) equals matmul(a, transpose(b)).
struct Transposed {
  bool a = false;
  bool b = false;
};
Tensor matmul(const Tensor& a, const Tensor& b, Transposed t);
// An uninitialized tensor of matmul(a, b, t)'s shape and dtype (the operands are checked as matmul
// checks them, their elements not read), and the product computed into it: the tape's deferred
// products (docs/decisions.md 14).
Tensor matmul_layout(const Tensor& a, const Tensor& b, Transposed t);
void matmul_into(Tensor& out, const Tensor& a, const Tensor& b, Transposed t);
// acc += matmul(a, b, t), accumulated by the gemm itself (beta = 1: no product temporary); acc
// must have the product's shape and dtype and must not be an operand.
void add_matmul(Tensor& acc, const Tensor& a, const Tensor& b, Transposed t = {});

// ---- layout ------------------------------------------------------------------------------------
Tensor reshape(const Tensor& x, const Shape& shape);
Tensor transpose(const Tensor& x);  // reverses the axes
Tensor transpose(const Tensor& x, std::span<const int> perm);
Tensor transpose(const Tensor& x, std::initializer_list<int> perm);
Tensor broadcast_to(const Tensor& x, const Shape& shape);
// Sums x down to `shape`, the shape it was broadcast from (the adjoint of broadcast_to).
Tensor sum_to(const Tensor& x, const Shape& shape);
Tensor sum_to(Tensor&& x, const Shape& shape);  // hands x back, uncopied, when it has the shape
// Elements start, start+step, ... below stop along `axis` (step > 0; bounds clipped as in Python).
Tensor slice(const Tensor& x, int axis, std::ptrdiff_t start, std::ptrdiff_t stop, std::ptrdiff_t step = 1);
// The adjoint of slice: a zero tensor of `shape` with x written at the sliced positions.
Tensor unslice(const Tensor& x, const Shape& shape, int axis, std::ptrdiff_t start, std::ptrdiff_t stop,
               std::ptrdiff_t step = 1);
// acc[start:stop:step] along axis += alpha x: acc += alpha unslice(x, acc.shape(), ...) without the
// zero-filled temporary (the reverse rule of slice adding into an adjoint).
void slice_add(Tensor& acc, const Tensor& x, int axis, std::ptrdiff_t start, std::ptrdiff_t stop,
               std::ptrdiff_t step = 1, double alpha = 1.0);
Tensor concat(std::span<const Tensor> parts, int axis);
Tensor concat(std::initializer_list<Tensor> parts, int axis);
// np.take(x, indices, axis): the result's `axis` extent is indices.size(); an index out of range
// throws ValueError naming it.
Tensor gather(const Tensor& x, std::span<const std::size_t> indices, int axis);
// The adjoint of gather: zeros of `shape`, x's slices added at `indices` along `axis`.
Tensor scatter_add(const Tensor& x, std::span<const std::size_t> indices, int axis, const Shape& shape);

// ---- comparison helpers for tests --------------------------------------------------------------
// Largest |a - b| over broadcast elements.
double max_abs_diff(const Tensor& a, const Tensor& b);
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8);

}  // namespace jetgrad
