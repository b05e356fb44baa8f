// Tape: a flat, topologically ordered list of recorded primitive applications (a Wengert list).
//
//   Tape tape;
//   Var x = tape.variable(x0);              // an input
//   Var y = sum(sin(x) * exp(x));           // recorded as it computes (eager)
//   Tensor g = tape.gradient(y, {x})[0];    // reverse sweep
//   tape.replay({x1});                      // re-evaluate every entry at new inputs, no re-recording
//
// Entries only refer to earlier entries, so every sweep is one loop over the array: forward for
// replay and Taylor, backward for adjoints. A tape belongs to the thread that made it.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "autodiff/ops/op_list.hpp"
#include "autodiff/pool_vector.hpp"
#include "autodiff/stable_vector.hpp"
#include "autodiff/tensor.hpp"

namespace jetgrad {

enum class Op : std::uint8_t {
#define JETGRAD_OP_ENUM(name, arity) name,
  JETGRAD_PRIMITIVES(JETGRAD_OP_ENUM)
#undef JETGRAD_OP_ENUM
};
const char* op_name(Op op);

enum class CompareKind : std::uint8_t { less, less_equal, greater, greater_equal, equal, not_equal };
const char* compare_name(CompareKind kind);

class Var;
class CustomRule;
namespace rules {
template <class X>
struct EvalArgsT;
using EvalArgs = EvalArgsT<Tensor>;  // ops/rule_support.hpp
}  // namespace rules

// The attributes of one entry: whatever its rules need besides the input values.
struct Attrs {
  static constexpr int all_axes = -128;  // reductions over every element

  double scalar = 0.0;  // PowScalar exponent
  int axis = 0;         // reductions, slice, gather (negative-normalized where it matters)
  bool keepdims = false;
  CompareKind compare = CompareKind::less;
  bool branch_taken = false;                     // Branch: the outcome recorded
  std::ptrdiff_t start = 0, stop = 0, step = 1;  // Slice / Unslice
  Shape shape;                              // Reshape/BroadcastTo/SumTo target, Unslice/ScatterAdd full shape
  std::array<int, Shape::max_rank> perm{};  // Transpose
  bool transpose_a = false, transpose_b = false;            // MatMul: operands read transposed
  std::shared_ptr<const std::vector<std::size_t>> indices;  // Gather / ScatterAdd
  const CustomRule* custom = nullptr;                       // Custom
};

// One recorded primitive application: what every sweep reads per entry, in 24 bytes. Its value
// (Tape::value, scalar code's doubles in one flat array) and where its attributes are
// (Tape::attrs_of) are kept beside it, so that the sweeps' loops walk dense entries.
struct Node {
  static constexpr int max_inputs = 4;

  explicit Node(Op o) noexcept : op(o) {}

  Op op = Op::Constant;
  std::uint8_t num_inputs = 0;
  bool needs_grad = false;   // some input path leads to an Input, outside no_grad
  bool real = false;         // the value is a 0-d float64, held as a plain double (Tape::real_value)
  bool scalar_lane = false;  // it and its inputs are real, and its rules run on doubles
  // The value is not computed yet: the tape holds its layout (shape and dtype) and computes it
  // when first read (Tape::value). Only ops that allow it (rules::op_is_deferrable) are deferred.
  mutable bool deferred = false;
  std::array<std::int32_t, max_inputs> inputs{-1, -1, -1, -1};

  // The number of an op with a constant operand (AddConstant, ConstantMinus, MulConstant: one
  // input), kept in the input slots such an op leaves unused, so that `100.0 * t` is one entry
  // and no Constant entry. Meaningless for other ops.
  double constant() const {
    double c;
    std::memcpy(&c, &inputs[2], sizeof c);
    return c;
  }
  void set_constant(double c) { std::memcpy(&inputs[2], &c, sizeof c); }
};

// Options of a reverse sweep.
struct GradOptions {
  // Record the sweep itself on the tape, so the returned gradients are variables that can be
  // differentiated again (reverse over reverse, Taylor over reverse). PyTorch's create_graph.
  bool create_graph = false;
};

class Tape {
 public:
  Tape();
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;

  // A new input: a leaf that gradients are taken with respect to.
  Var variable(const Tensor& value);
  // A constant leaf (no gradient flows into it; replay keeps its value).
  Var constant(const Tensor& value);

  std::size_t size() const { return nodes_.size(); }
  // Bytes held by the entries' values (sum of Tensor::nbytes over every entry): the memory a
  // recorded forward pass keeps alive for its reverse sweep. Buffer capacity beyond nbytes and the
  // tape's own bookkeeping (nodes, attributes) are not counted.
  std::size_t value_bytes() const;
  const Node& node(std::size_t i) const { return nodes_[i]; }
  // f(i, node(i)) for i in [begin, end), ascending or descending: the sweeps' loops.
  template <class F>
  [[gnu::always_inline]] void for_each_entry(std::size_t begin, std::size_t end, F&& f) const {
    nodes_.for_each(begin, end, f);
  }
  template <class F>
  [[gnu::always_inline]] void for_each_entry_descending(std::size_t begin, std::size_t end, F&& f) const {
    nodes_.for_each_descending(begin, end, f);
  }
  // The value of entry i (as recorded, or as of the last replay); a deferred one is computed now.
  const Tensor& value(std::size_t i) const {
    const Node& n = nodes_[i];
    if (n.real) return real_as_tensor(i);
    if (n.deferred) [[unlikely]]
      compute_deferred(i);
    return values_[static_cast<std::size_t>(tables_[i].value)];
  }
  // Entry i's tensor for its shape and dtype only: a deferred value is left uncomputed (its
  // elements are then unspecified).
  const Tensor& value_layout(std::size_t i) const {
    const Node& n = nodes_[i];
    return n.real ? real_as_tensor(i) : values_[static_cast<std::size_t>(tables_[i].value)];
  }
  // The value of a real entry (Node::real) as a double: what the scalar lane reads and writes.
  double real_value(std::size_t i) const { return reals_[i]; }
  const double* real_values() const { return reals_.data(); }  // indexed by entry
  const Attrs* attrs_of(std::size_t i) const {
    const std::int32_t a = tables_[i].attrs;
    return a < 0 ? nullptr : &attrs_[static_cast<std::size_t>(a)];
  }
  std::span<const std::int32_t> inputs() const { return {inputs_.data(), inputs_.size()}; }
  std::uint32_t generation() const { return generation_; }
  // Unique among all tapes of the process (never reused), so that a binding made to one tape can
  // not be mistaken for another tape that later sits at the same address.
  std::uint64_t id() const { return id_; }

  // Reverse sweep from a scalar output (cotangent 1) or any output with a cotangent of its shape.
  // Returns one gradient per variable in `wrt`, zero-filled where no path connects them.
  std::vector<Tensor> gradient(const Var& output, std::span<const Var> wrt);
  std::vector<Tensor> gradient(const Var& output, std::initializer_list<Var> wrt);
  std::vector<Tensor> vjp(const Var& output, const Tensor& cotangent, std::span<const Var> wrt);
  // Several outputs with a cotangent each (their contributions add up).
  std::vector<Tensor> vjp(std::span<const Var> outputs, std::span<const Tensor> cotangents,
                          std::span<const Var> wrt);
  // The recorded form: gradients as variables on this tape (create_graph).
  std::vector<Var> gradient_vars(const Var& output, std::span<const Var> wrt);
  std::vector<Var> vjp_vars(std::span<const Var> outputs, std::span<const Var> cotangents,
                            std::span<const Var> wrt);

  // Taylor sweep (forward mode of degree K, D directions at once): seeds each variable in `wrt`
  // with x(t) = x + t v, v = directions[i] of shape [D] + shape(wrt[i]), and returns for each
  // output its normalized coefficients y_0..y_K (y_0 the value; y_k of shape [D] + shape(y)).
  // K = 1 is the JVP. Work per entry is O(K²); entries no direction reaches cost nothing.
  std::vector<std::vector<Tensor>> taylor(std::span<const Var> outputs, std::span<const Var> wrt,
                                          std::span<const Tensor> directions, int K) const;
  // The same without the outputs' values: y_1..y_K for each output. An output whose value nothing
  // reads is then never computed (a deferred matrix product: for an HVP through a recorded
  // gradient, the gradient's last products).
  std::vector<std::vector<Tensor>> taylor_terms(std::span<const Var> outputs, std::span<const Var> wrt,
                                                std::span<const Tensor> directions, int K) const;

  // Re-evaluates every entry with new values for the inputs (in the order they were made).
  // Values come from the per-thread buffer cache (buffer_pool.hpp), so a fixed graph replays
  // without heap allocation after the first replay.
  // Throws TapeError if a recorded Branch no longer holds, naming the entry.
  // The inputs are all checked before any changes: a refused replay leaves the tape as it was.
  void replay(std::span<const Tensor> new_inputs);
  void replay(std::initializer_list<Tensor> new_inputs) {
    replay(std::span<const Tensor>(new_inputs.begin(), new_inputs.size()));
  }

  // Scalar code's interface, as ADOL-C's and CppAD's: doubles in and out, no tensor per variable.
  // replay: one double per input, each input a 0-d float64 variable.
  void replay(std::span<const double> new_inputs);
  // The gradient of a one-element output, written to out[k] for each wrt[k], a 0-d float64.
  void gradient(const Var& output, std::span<const Var> wrt, std::span<double> out);

  // Forgets every entry; variables made before become unusable (a TapeError names the cause).
  void clear();

  // Teaching and debugging: a readable listing, and Graphviz DOT.
  std::string listing() const;
  std::string to_dot() const;

  // Anomaly mode: after recording or replaying each entry, check its value for NaN/Inf and throw
  // naming the first entry that produced one (PyTorch's detect_anomaly); a reverse sweep likewise
  // names the entry whose reverse rule first produced one.
  void set_detect_anomaly(bool on) { detect_anomaly_ = on; }
  bool detect_anomaly() const { return detect_anomaly_; }

  // ---- used by Var operations and the sweeps ----
  // `constant`: the number of an op with a constant operand (rules::op_has_constant).
  Var record(Op op, std::span<const Var> inputs, Tensor value, const Attrs* attrs = nullptr,
             double constant = 0.0);
  // The scalar lane's record: a real result of real inputs, no Tensor built.
  Var record_real(Op op, std::span<const Var> inputs, double value, const Attrs* attrs = nullptr,
                  double constant = 0.0);
  // Records an entry whose value is computed when first read, given its layout (rules::layout_op;
  // not a 0-d float64: those are real entries). Anomaly mode checks values as they are recorded,
  // so it defers nothing (Var operations ask).
  Var record_deferred(Op op, std::span<const Var> inputs, Tensor layout, const Attrs* attrs);
  // Scalar code's path (Var's operations, for ops whose rules run on doubles; the op known at
  // compile time, so the rule's double arithmetic is inlined): when every input is real, evaluates
  // op on doubles and records it, in one pass over the inputs; otherwise records nothing and
  // returns a detached Var (the caller takes the tensor path). Defined in sweeps/scalar_lane.hpp.
  template <Op op, std::size_t N>
  Var record_in_lane(std::span<const Var, N> inputs, const Attrs* attrs, double constant);
  void check_var(const Var& v, const char* what) const;
  void check_thread(const char* what) const;

 private:
  friend class Var;
  // A new entry and its row of tables_: where every recording path starts.
  [[gnu::always_inline]] Node& new_entry(Op op) {
    tables_.push_back({-1, -1});
    return nodes_.emplace_back(op);
  }
  Node& append(Op op, std::span<const Var> inputs, const Attrs* attrs, double constant);
  // Defined in sweeps/scalar_lane.hpp, beside record_in_lane, which inlines it.
  void link(Node& node, std::span<const Var> inputs, bool inputs_need_grad, const Attrs* attrs,
            double constant);
  [[noreturn, gnu::cold, gnu::noinline]] static void throw_non_finite(std::size_t entry, Op op, double value);
  void set_value(std::size_t i, Tensor&& value);
  const Tensor& real_as_tensor(std::size_t i) const;
  void compute_deferred(std::size_t i) const;
  void replay_entries();                               // replay's loop, inputs set (sweeps/replay.cpp)
  [[gnu::noinline]] void replay_entry(std::size_t i);  // out of the lane loop
  // Evaluation arguments of entry n: its inputs' values (computing deferred ones) and attributes.
  rules::EvalArgs eval_args(std::size_t i) const;
  // Appends a tensor-valued entry (record's and record_deferred's shared tail; no value checks).
  Var record_tensor(Op op, std::span<const Var> inputs, Tensor&& value, const Attrs* attrs, double constant);

  detail::StableVector<Node> nodes_;  // entries never move: rules may record while holding references
  // Tensor values, at each entry's tables_[i].value. A real entry's master copy is reals_[i] (entry
  // index); its tensor, made on first read, is refreshed from it at every read and after every
  // replay (so references handed out keep following the tape, as for tensor entries).
  mutable detail::StableVector<Tensor> values_;
  detail::PoolVector<double> reals_;
  mutable detail::PoolVector<std::int32_t> real_tensors_;  // real entries that have a tensor
  // Per entry, where its attributes (attrs_) and tensor value (values_) are, -1 for none. A real
  // entry gets a tensor only when first read as one (value), so scalar code records no tensors.
  struct TableSlots {
    std::int32_t attrs;
    std::int32_t value;
  };
  mutable detail::PoolVector<TableSlots> tables_;
  detail::StableVector<Attrs> attrs_;
  detail::PoolVector<std::int32_t> inputs_;  // entry index of each variable(), in creation order
  std::uint32_t generation_ = 0;
  std::uint64_t id_;
  std::thread::id owner_;
  bool detect_anomaly_ = false;
};

// Inside a NoGrad scope, operations still compute (and record, so replays stay correct) but no
// gradient flows through what they produce: their results are constants to every sweep.
class NoGrad {
 public:
  NoGrad();
  ~NoGrad();
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;
  static bool active() { return active_; }

 private:
  // initial-exec: one load, not a __tls_get_addr call per recorded op (the library is PIC).
  [[gnu::tls_model("initial-exec")]] static inline thread_local constinit bool active_ = false;
  bool previous_;
};

}  // namespace jetgrad
