// Operations on Var: primitives record one tape entry each (apply); everything else is composed
// from primitives here, so it is differentiable by every sweep without rules of its own.
#include "autodiff/var.hpp"

#include <memory>
#include <numeric>

#include "autodiff/custom.hpp"
#include "autodiff/sweeps/dispatch.hpp"
#include "autodiff/sweeps/scalar_lane.hpp"

namespace jetgrad {

const Tensor& Var::value() const {
  if (tape_ == nullptr) throw TapeError("variable is not attached to a tape (make it with Tape::variable)");
  if (generation_ != tape_->generation()) tape_->check_var(*this, "value");  // names the cause
  return tape_->value(static_cast<std::size_t>(index_));
}

const Tensor& Var::layout() const {
  if (tape_ == nullptr) throw TapeError("variable is not attached to a tape (make it with Tape::variable)");
  if (generation_ != tape_->generation()) tape_->check_var(*this, "shape");
  return tape_->value_layout(static_cast<std::size_t>(index_));
}

bool Var::needs_grad() const {
  layout();  // validates the handle (without computing a deferred value)
  return tape_->node(static_cast<std::size_t>(index_)).needs_grad;
}

namespace {

Tape& tape_of(const Var& v) {
  if (v.tape() == nullptr)
    throw TapeError("variable is not attached to a tape (make it with Tape::variable)");
  return *v.tape();
}

// An input of op must be on this tape and of its generation; the cheap test inline, the message
// (Tape::check_var) only on failure.
void check_input(const Tape& tape, const Var& v, Op op) {
  if (v.tape() != &tape || v.generation() != tape.generation()) tape.check_var(v, op_name(op));
}

// Evaluates a primitive on its inputs' values and records it (`constant`: the number of an op
// with a constant operand).
Var record_op(Op op, std::span<const Var> in, const Attrs* attrs = nullptr, double constant = 0.0) {
  Tape& tape = tape_of(in[0]);
  rules::EvalArgs args;
  args.num_inputs = static_cast<int>(in.size());
  args.attrs = attrs;
  args.constant = constant;
  // A deferrable op's value is computed when first read (Tape::value): never, for a product whose
  // value no later step needs. Its layout needs only its inputs' shapes.
  const bool defer = rules::op_is_deferrable(op) && !tape.detect_anomaly();
  for (std::size_t k = 0; k < in.size(); ++k) {
    check_input(tape, in[k], op);
    const auto index = static_cast<std::size_t>(in[k].index());
    args.in[k] = defer ? &tape.value_layout(index) : &tape.value(index);
  }
  if (defer) {
    Tensor layout = rules::layout_op(op, args);
    if (!(layout.rank() == 0 && layout.dtype() == DType::f64))
      return tape.record_deferred(op, in, std::move(layout), attrs);
    for (std::size_t k = 0; k < in.size(); ++k)
      args.in[k] = &tape.value(static_cast<std::size_t>(in[k].index()));
  }
  return tape.record(op, in, rules::eval_op(op, args), attrs, constant);
}

// A primitive applied by Var's operations. 0-d float64 operands of an elementwise op take the
// scalar lane: plain double arithmetic inlined here, no kernel dispatch.
template <Op op, std::size_t N>
Var apply(const std::array<Var, N>& in, const Attrs* attrs = nullptr, double constant = 0.0) {
  if constexpr (rules::ScalarLaneRule<typename rules::RuleFor<op>::type>) {
    const Var result =
        tape_of(in[0]).template record_in_lane<op, N>(std::span<const Var, N>(in), attrs, constant);
    if (result.attached()) return result;
  }
  return record_op(op, in, attrs, constant);
}
// An op with a constant operand: x and the number c.
template <Op op>
Var apply_constant(const Var& x, double c) {
  return apply<op, 1>(std::array<Var, 1>{x}, nullptr, c);
}
template <Op op>
Var apply(const Var& x, const Attrs* attrs = nullptr) {
  return apply<op, 1>(std::array<Var, 1>{x}, attrs);
}
template <Op op>
Var apply(const Var& a, const Var& b, const Attrs* attrs = nullptr) {
  return apply<op, 2>(std::array<Var, 2>{a, b}, attrs);
}
template <Op op>
Var apply(const Var& a, const Var& b, const Var& c, const Attrs* attrs = nullptr) {
  return apply<op, 3>(std::array<Var, 3>{a, b, c}, attrs);
}

Var lift(const Var& like, const Tensor& c) { return tape_of(like).constant(c); }
Var lift(const Var& like, double c) {
  Tape& tape = tape_of(like);
  if (like.generation() == tape.generation() && tape.node(static_cast<std::size_t>(like.index())).real)
    return tape.record_real(Op::Constant, {}, c);  // the scalar lane: no tensor built
  return tape.constant(Tensor(c, like.dtype()));
}

Attrs reduction_attrs(const Var& x, int axis, bool keepdims) {
  Attrs at;
  at.axis = normalize_axis(axis, x.rank(), "reduction") - x.rank();  // stored negative
  at.keepdims = keepdims;
  return at;
}
Attrs all_axes_attrs() {
  Attrs at;
  at.axis = Attrs::all_axes;
  return at;
}

Var compare(const Var& a, const Var& b, CompareKind kind) {
  Attrs at;
  at.compare = kind;
  return apply<Op::Compare>(a, b, &at);
}

}  // namespace

Var apply_custom(const CustomRule& rule, std::span<const Var> inputs) {
  if (inputs.empty())
    throw ValueError(std::string("custom op '") + rule.name() + "': needs at least one input");
  Attrs at;
  at.custom = &rule;
  return record_op(Op::Custom, inputs, &at);
}

// ---- unary -------------------------------------------------------------------------------------
Var operator-(const Var& x) { return apply<Op::Neg>(x); }
Var exp(const Var& x) { return apply<Op::Exp>(x); }
Var log(const Var& x) { return apply<Op::Log>(x); }
Var sin(const Var& x) { return apply<Op::Sin>(x); }
Var cos(const Var& x) { return apply<Op::Cos>(x); }
Var tan(const Var& x) { return apply<Op::Tan>(x); }
Var tanh(const Var& x) { return apply<Op::Tanh>(x); }
Var sinh(const Var& x) { return apply<Op::Sinh>(x); }
Var cosh(const Var& x) { return apply<Op::Cosh>(x); }
Var sqrt(const Var& x) { return apply<Op::Sqrt>(x); }
Var sigmoid(const Var& x) { return apply<Op::Sigmoid>(x); }
Var softplus(const Var& x) { return apply<Op::Softplus>(x); }
Var erf(const Var& x) { return apply<Op::Erf>(x); }
Var abs(const Var& x) { return apply<Op::Abs>(x); }
Var relu(const Var& x) { return apply<Op::Relu>(x); }
Var pow(const Var& x, double p) {
  Attrs at;
  at.scalar = p;
  return apply<Op::PowScalar>(x, &at);
}
Var square(const Var& x) { return x * x; }
Var reciprocal(const Var& x) { return 1.0 / x; }

// ---- binary ------------------------------------------------------------------------------------
// fn on two Vars (body), and a Var with a Tensor constant.
#define JETGRAD_DEFINE_BINARY_TENSOR_OPERANDS(fn, body)                           \
  Var fn(const Var& a, const Var& b) body Var fn(const Var& a, const Tensor& b) { \
    return fn(a, lift(a, b));                                                     \
  }                                                                               \
  Var fn(const Tensor& a, const Var& b) { return fn(lift(b, a), b); }
// ... and with a number, recorded as a Constant entry.
#define JETGRAD_DEFINE_BINARY(fn, body)                        \
  JETGRAD_DEFINE_BINARY_TENSOR_OPERANDS(fn, body)              \
  Var fn(const Var& a, double b) { return fn(a, lift(a, b)); } \
  Var fn(double a, const Var& b) { return fn(lift(b, a), b); }

// A number operand of +, - and * is kept in the entry (one entry, no Constant entry); division
// by a number stays a Div by a constant, as x / c and x * (1 / c) round differently.
JETGRAD_DEFINE_BINARY_TENSOR_OPERANDS(operator+, { return apply<Op::Add>(a, b); })
Var operator+(const Var& a, double b) { return apply_constant<Op::AddConstant>(a, b); }
Var operator+(double a, const Var& b) { return apply_constant<Op::AddConstant>(b, a); }
JETGRAD_DEFINE_BINARY_TENSOR_OPERANDS(operator-, { return apply<Op::Sub>(a, b); })
Var operator-(const Var& a, double b) { return apply_constant<Op::AddConstant>(a, -b); }
Var operator-(double a, const Var& b) { return apply_constant<Op::ConstantMinus>(b, a); }
JETGRAD_DEFINE_BINARY_TENSOR_OPERANDS(operator*, { return apply<Op::Mul>(a, b); })
Var operator*(const Var& a, double b) { return apply_constant<Op::MulConstant>(a, b); }
Var operator*(double a, const Var& b) { return apply_constant<Op::MulConstant>(b, a); }
JETGRAD_DEFINE_BINARY(operator/, { return apply<Op::Div>(a, b); })
Var pow(const Var& a, const Var& b) { return exp(b * log(a)); }
Var pow(const Var& a, const Tensor& b) { return pow(a, lift(a, b)); }
Var pow(const Tensor& a, const Var& b) { return pow(lift(b, a), b); }
Var pow(double a, const Var& b) { return pow(lift(b, a), b); }
JETGRAD_DEFINE_BINARY(maximum, { return where(greater_equal(a, b), a, b); })
JETGRAD_DEFINE_BINARY(minimum, { return where(less_equal(a, b), a, b); })
JETGRAD_DEFINE_BINARY(less, { return compare(a, b, CompareKind::less); })
JETGRAD_DEFINE_BINARY(less_equal, { return compare(a, b, CompareKind::less_equal); })
JETGRAD_DEFINE_BINARY(greater, { return compare(a, b, CompareKind::greater); })
JETGRAD_DEFINE_BINARY(greater_equal, { return compare(a, b, CompareKind::greater_equal); })
JETGRAD_DEFINE_BINARY(equal, { return compare(a, b, CompareKind::equal); })
JETGRAD_DEFINE_BINARY(not_equal, { return compare(a, b, CompareKind::not_equal); })
#undef JETGRAD_DEFINE_BINARY
#undef JETGRAD_DEFINE_BINARY_TENSOR_OPERANDS

Var where(const Var& cond, const Var& a, const Var& b) { return apply<Op::Where>(cond, a, b); }
Var where(const Var& cond, const Var& a, double b) { return where(cond, a, lift(a, b)); }
Var where(const Var& cond, double a, const Var& b) { return where(cond, lift(b, a), b); }

Var clamp(const Var& x, double lo, double hi) {
  if (!(lo <= hi)) {
    throw ValueError("clamp: expected lo <= hi, got lo = " + std::to_string(lo) +
                     ", hi = " + std::to_string(hi));
  }
  return where(less(x, lo), lo, where(greater(x, hi), hi, x));
}

Var stop_gradient(const Var& x) { return apply<Op::StopGradient>(x); }

bool branch(const Var& cond) {
  rules::EvalArgs args;
  args.num_inputs = 1;
  args.in[0] = &cond.value();
  Tensor outcome = rules::eval_op(Op::Branch, args);
  Attrs at;
  at.branch_taken = outcome.item() != 0.0;
  tape_of(cond).record(Op::Branch, std::span<const Var>(&cond, 1), std::move(outcome), &at);
  return at.branch_taken;
}

Var& operator+=(Var& a, const Var& b) { return a = a + b; }
Var& operator-=(Var& a, const Var& b) { return a = a - b; }
Var& operator*=(Var& a, const Var& b) { return a = a * b; }
Var& operator/=(Var& a, const Var& b) { return a = a / b; }

// ---- reductions --------------------------------------------------------------------------------
Var sum(const Var& x) {
  const Attrs at = all_axes_attrs();
  return apply<Op::Sum>(x, &at);
}
Var sum(const Var& x, int axis, bool keepdims) {
  const Attrs at = reduction_attrs(x, axis, keepdims);
  return apply<Op::Sum>(x, &at);
}
Var mean(const Var& x) {
  if (x.numel() == 0) throw ShapeError("mean: the tensor has no elements (shape " + x.shape().str() + ")");
  return sum(x) / static_cast<double>(x.numel());
}
Var mean(const Var& x, int axis, bool keepdims) {
  const int a = normalize_axis(axis, x.rank(), "mean");
  if (x.shape()[a] == 0)
    throw ShapeError("mean: axis " + std::to_string(axis) + " of shape " + x.shape().str() + " is empty");
  return sum(x, a, keepdims) / static_cast<double>(x.shape()[a]);
}
Var max(const Var& x) {
  const Attrs at = all_axes_attrs();
  return apply<Op::Max>(x, &at);
}
Var max(const Var& x, int axis, bool keepdims) {
  const Attrs at = reduction_attrs(x, axis, keepdims);
  return apply<Op::Max>(x, &at);
}
Var min(const Var& x) { return -max(-x); }
Var min(const Var& x, int axis, bool keepdims) { return -max(-x, axis, keepdims); }

Var prod(const Var& x) { return prod(reshape(x, Shape{x.numel()}), 0); }
Var prod(const Var& x, int axis, bool keepdims) {
  const int a = normalize_axis(axis, x.rank(), "prod");
  const Shape out_shape = reduced_shape(x.shape(), a, keepdims);
  std::size_t n = x.shape()[a];
  if (n == 0) return lift(x, Tensor::ones(out_shape, x.dtype()));
  // Pairwise products of the two halves until one slice is left: exact derivatives of every
  // order, zeros included, with O(log n) entries.
  Var p = x;
  while (n > 1) {
    const auto half = static_cast<std::ptrdiff_t>(n / 2);
    Var paired = slice(p, a, 0, half) * slice(p, a, half, 2 * half);
    p = n % 2 == 0 ? paired : concat({paired, slice(p, a, 2 * half, static_cast<std::ptrdiff_t>(n))}, a);
    n = n / 2 + n % 2;
  }
  return reshape(p, out_shape);
}

Var logsumexp(const Var& x) {
  const Attrs at = all_axes_attrs();
  return apply<Op::LogSumExp>(x, &at);
}
Var logsumexp(const Var& x, int axis, bool keepdims) {
  const Attrs at = reduction_attrs(x, axis, keepdims);
  return apply<Op::LogSumExp>(x, &at);
}
Var softmax(const Var& x, int axis) { return exp(log_softmax(x, axis)); }
Var log_softmax(const Var& x, int axis) { return x - logsumexp(x, axis, /*keepdims=*/true); }

// ---- linear algebra ----------------------------------------------------------------------------
Var matmul(const Var& a, const Var& b) { return matmul(a, b, Transposed{}); }
Var matmul(const Var& a, const Var& b, Transposed t) {
  const auto shapes = [&] {
    return a.shape().str() + (t.a ? " (transposed)" : "") + " and " + b.shape().str() +
           (t.b ? " (transposed)" : "");
  };
  if (a.rank() == 0 || b.rank() == 0)
    throw ShapeError("matmul: operands must have at least one axis, got shapes " + shapes());
  if ((t.a && a.rank() < 2) || (t.b && b.rank() < 2))
    throw ShapeError("matmul: a transposed operand needs at least two axes, got shapes " + shapes());
  // NumPy promotion of 1-D operands (never transposed ones), undone on the result.
  const bool a_vector = a.rank() == 1, b_vector = b.rank() == 1;
  Attrs at;
  at.transpose_a = t.a;
  at.transpose_b = t.b;
  const Var y = apply<Op::MatMul>(a_vector ? reshape(a, Shape{1, a.shape()[0]}) : a,
                                  b_vector ? reshape(b, Shape{b.shape()[0], 1}) : b, &at);
  if (!a_vector && !b_vector) return y;
  Shape s;
  for (int i = 0; i < y.rank() - 2; ++i) s.push_back(y.shape()[i]);
  if (!a_vector) s.push_back(y.shape()[y.rank() - 2]);
  if (!b_vector) s.push_back(y.shape()[y.rank() - 1]);
  return reshape(y, s);
}
Var matmul(const Var& a, const Tensor& b) { return matmul(a, lift(a, b)); }
Var matmul(const Tensor& a, const Var& b) { return matmul(lift(b, a), b); }
Var matmul(const Var& a, const Tensor& b, Transposed t) { return matmul(a, lift(a, b), t); }
Var matmul(const Tensor& a, const Var& b, Transposed t) { return matmul(lift(b, a), b, t); }

// ---- layout ------------------------------------------------------------------------------------
Var reshape(const Var& x, const Shape& shape) {
  if (shape == x.shape()) return x;
  Attrs at;
  at.shape = shape;
  return apply<Op::Reshape>(x, &at);
}
Var transpose(const Var& x, std::span<const int> perm) {
  if (static_cast<int>(perm.size()) != x.rank()) {
    throw ShapeError("transpose: a permutation of " + std::to_string(x.rank()) + " axes expected for shape " +
                     x.shape().str() + ", got " + std::to_string(perm.size()) + " axes");
  }
  Attrs at;
  bool identity = true;
  for (std::size_t i = 0; i < perm.size(); ++i) {
    at.perm[i] = normalize_axis(perm[i], x.rank(), "transpose");
    identity &= at.perm[i] == static_cast<int>(i);
  }
  if (identity) return x;
  return apply<Op::Transpose>(x, &at);
}
Var transpose(const Var& x, std::initializer_list<int> perm) {
  return transpose(x, std::span<const int>(perm.begin(), perm.size()));
}
Var transpose(const Var& x) {
  std::array<int, Shape::max_rank> perm{};
  for (int i = 0; i < x.rank(); ++i) perm[static_cast<std::size_t>(i)] = x.rank() - 1 - i;
  return transpose(x, std::span<const int>(perm.data(), static_cast<std::size_t>(x.rank())));
}
Var broadcast_to(const Var& x, const Shape& shape) {
  if (shape == x.shape()) return x;
  Attrs at;
  at.shape = shape;
  return apply<Op::BroadcastTo>(x, &at);
}
Var sum_to(const Var& x, const Shape& shape) {
  if (shape == x.shape()) return x;
  Attrs at;
  at.shape = shape;
  return apply<Op::SumTo>(x, &at);
}
Var slice(const Var& x, int axis, std::ptrdiff_t start, std::ptrdiff_t stop, std::ptrdiff_t step) {
  Attrs at;
  at.axis = normalize_axis(axis, x.rank(), "slice") - x.rank();
  at.start = start;
  at.stop = stop;
  at.step = step;
  return apply<Op::Slice>(x, &at);
}
Var unslice(const Var& x, const Shape& shape, int axis, std::ptrdiff_t start, std::ptrdiff_t stop,
            std::ptrdiff_t step) {
  Attrs at;
  at.axis = normalize_axis(axis, shape.rank(), "unslice") - shape.rank();
  at.start = start;
  at.stop = stop;
  at.step = step;
  at.shape = shape;
  return apply<Op::Unslice>(x, &at);
}
Var concat(std::span<const Var> parts, int axis) {
  if (parts.empty()) throw ValueError("concat: needs at least one tensor");
  const Shape& first = parts[0].shape();
  const int a = normalize_axis(axis, first.rank(), "concat");
  Shape total = first;
  total[a] = 0;
  for (const Var& p : parts) {
    bool fits = p.rank() == first.rank();
    for (int i = 0; fits && i < first.rank(); ++i) fits = i == a || p.shape()[i] == first[i];
    if (!fits) {
      throw ShapeError("concat: shapes " + first.str() + " and " + p.shape().str() + " differ outside axis " +
                       std::to_string(axis));
    }
    total[a] += p.shape()[a];
  }
  if (parts.size() == 1) return parts[0];
  // Each part written into its place in a zero tensor, then added: unslice is the primitive.
  std::optional<Var> out;
  std::ptrdiff_t offset = 0;
  for (const Var& p : parts) {
    const auto len = static_cast<std::ptrdiff_t>(p.shape()[a]);
    Var placed = unslice(p, total, a, offset, offset + len);
    out = out ? *out + placed : placed;
    offset += len;
  }
  return *out;
}
Var concat(std::initializer_list<Var> parts, int axis) {
  return concat(std::span<const Var>(parts.begin(), parts.size()), axis);
}
Var gather(const Var& x, std::span<const std::size_t> indices, int axis) {
  Attrs at;
  at.axis = normalize_axis(axis, x.rank(), "gather") - x.rank();
  at.indices = std::make_shared<const std::vector<std::size_t>>(indices.begin(), indices.end());
  return apply<Op::Gather>(x, &at);
}
Var scatter_add(const Var& x, std::span<const std::size_t> indices, int axis, const Shape& shape) {
  Attrs at;
  at.axis = normalize_axis(axis, shape.rank(), "scatter_add") - shape.rank();
  at.indices = std::make_shared<const std::vector<std::size_t>>(indices.begin(), indices.end());
  at.shape = shape;
  return apply<Op::ScatterAdd>(x, &at);
}

}  // namespace jetgrad
