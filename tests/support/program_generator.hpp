// Random well-formed programs over jetgrad's op set, for the differential tester
// (tests/differential_test.cpp).
//
// A Program is a few input tensors (broadcast-compatible random shapes, at most 12 elements, float64)
// and a short list of Steps, each one op application to earlier values (inputs or step results),
// with every attribute (axes, slices, target shapes, constants) fixed at generation. Its output is
// the scalar  Σ over unused values v_j of sum(v_j * W_j)  for fixed weights W_j, so every value
// reaches the output and tensor-valued ops are seen through a nontrivial cotangent.
//
// Domains are kept by construction, never by luck:
//   - log, sqrt, reciprocal, pow(x, non-integer or negative p), the denominator of a division and
//     the base of pow(a, b) take a positivity guard: (x * x + 0.5), exp(x) or (sigmoid(x) + 0.25);
//   - tan takes tanh(x), so |argument| < 1 < π/2;
//   - exp, sinh, cosh, prod, ... are unguarded; a step whose result exceeds 1e3 in magnitude is
//     redrawn (EvalStats::max_abs).
// Non-smooth ops (abs, relu, clamp, maximum, minimum, where(compare), max/min reductions) are
// included; evaluation measures how far every such op's inputs are from its kink (EvalStats::margin),
// and the generator redraws a step closer than GenOptions::min_margin, so central differences with
// a small step never straddle a kink. stop_gradient and branch are left out on purpose: stop_gradient
// makes reverse mode differ from finite differences by design, and branch is control flow (both
// have tests of their own in tape_test.cpp and bad_input_test.cpp).
//
// Program::to_cpp() prints the program as C++ a developer can paste into a test.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "autodiff/autodiff.hpp"

namespace difftest {

using jetgrad::Shape;
using jetgrad::Tensor;
using jetgrad::Var;

// The op table (see kind_info() in program_generator.cpp for names, arity and weights).
enum class Kind : std::uint8_t {
  // unary elementwise
  Neg,
  Exp,
  Log,
  Sin,
  Cos,
  Tan,
  Tanh,
  Sinh,
  Cosh,
  Sqrt,
  PowScalar,
  Square,
  Reciprocal,
  Sigmoid,
  Softplus,
  Erf,
  Abs,
  Relu,
  Clamp,
  // binary elementwise (broadcasting)
  Add,
  Sub,
  Mul,
  Div,
  Pow,
  Maximum,
  Minimum,
  Where,
  // reductions
  Sum,
  Mean,
  Max,
  Min,
  Prod,
  LogSumExp,
  Softmax,
  LogSoftmax,
  // linear algebra
  MatMul,
  // layout
  Reshape,
  Transpose,
  BroadcastTo,
  SumTo,
  Slice,
  Unslice,
  Concat,
  Gather,
  ScatterAdd,
  count_
};
constexpr int kind_count = static_cast<int>(Kind::count_);
const char* kind_name(Kind k);

// Which operands of a binary op are program values (Var), constants (Tensor) or numbers.
enum class Form : std::uint8_t { var_var, var_tensor, tensor_var, var_scalar, scalar_var };
// A wrapper keeping an operand inside an op's domain.
enum class Guard : std::uint8_t { none, square_plus_half, exp, sigmoid_plus_quarter, tanh };

struct Step {
  Kind kind = Kind::Neg;
  int a = -1, b = -1;  // value indices (inputs first, then step results); b only for Var-Var forms
  Form form = Form::var_var;
  Guard guard = Guard::none;  // applied to the operand that needs it (a; the denominator/base for Div/Pow)
  Tensor constant;            // the Tensor operand of var_tensor / tensor_var forms
  double scalar = 0.0;        // the number operand, PowScalar's p, Clamp's lo
  double scalar2 = 0.0;       // Clamp's hi
  jetgrad::CompareKind compare = jetgrad::CompareKind::less;  // Where: where(compare(a, b), a, b)
  bool swap = false;                                          // Where: where(compare(a, b), b, a)
  bool all = false;                                           // reductions over every element
  int axis = 0;
  bool keepdims = false;
  Shape shape;            // Reshape / BroadcastTo / SumTo target, Unslice / ScatterAdd full shape
  std::vector<int> perm;  // Transpose (empty: reverse the axes)
  std::ptrdiff_t start = 0, stop = 0, stride = 1;  // Slice / Unslice
  std::vector<std::size_t> indices;                // Gather / ScatterAdd
};

// What evaluation saw: the smallest distance of a non-smooth op's inputs to its kink, the largest
// magnitude of any value, and whether every value was finite.
struct EvalStats {
  double margin = std::numeric_limits<double>::infinity();
  double max_abs = 0.0;
  bool finite = true;
  std::vector<Var> guards;  // the outputs of domain guards (intermediates that are not step results)
  void see(const Tensor& value);
  void kink(double distance) { margin = distance < margin ? distance : margin; }
};

struct Program {
  std::uint64_t seed = 0;
  std::vector<Tensor> inputs;  // float64
  std::vector<Step> steps;

  int num_values() const { return static_cast<int>(inputs.size() + steps.size()); }
  // Values no step uses (inputs included): they make up the output.
  std::vector<int> sinks() const;
  // The output weight W_j for value j of the given shape (a fixed pattern of ±0.5 .. ±1.25).
  static Tensor weight(int j, const Shape& shape);

  // The program over variables xs (one per input, any tape, any values): the scalar output.
  // Throws what the ops throw (jetgrad::Error) if the program is not valid for these shapes.
  // `values`, if given, receives every value (inputs, then one per step).
  Var eval(const std::vector<Var>& xs, EvalStats* stats = nullptr, std::vector<Var>* values = nullptr) const;
  // The output's value at `values` (a fresh tape): for finite differences.
  double value_at(const std::vector<Tensor>& values) const;

  // Compilable C++ (a block that declares `tape`, the inputs x0.., the steps v.. and `out`).
  std::string to_cpp() const;
  // One line: "exp(x0) -> sum(v1, axis=0) -> ..." for summaries.
  std::string summary() const;
};

struct GenOptions {
  int max_steps = 6;
  int max_inputs = 3;
  std::size_t max_input_numel = 12;
  std::size_t max_value_numel = 24;
  double min_margin = 0.05;  // distance of non-smooth ops' inputs to their kinks
  double max_abs = 1e3;      // largest magnitude of any value
};

Program generate(std::uint64_t seed, const GenOptions& options = {});

// Shrinking candidates, simplest first: the program without one step (uses of its result go to
// the step's first operand), without an unused input, with one input reduced to its first slice
// along an axis, with input values rounded to one decimal. Candidates may be invalid (the caller's
// check rejects them).
std::vector<Program> shrink_candidates(const Program& p);

// The shortest decimal text that reads back as exactly x.
std::string shortest(double x);

}  // namespace difftest
