#include "autodiff/tape.hpp"

#include <atomic>
#include <cmath>
#include <sstream>

#include "autodiff/custom.hpp"
#include "autodiff/sweeps/dispatch.hpp"
#include "autodiff/sweeps/scalar_lane.hpp"
#include "autodiff/var.hpp"

namespace jetgrad {

namespace {

// Index of the first NaN or infinity in t, or -1.
std::ptrdiff_t first_non_finite(const Tensor& t) {
  return dispatch_dtype(t.dtype(), [&](auto zero) -> std::ptrdiff_t {
    using T = decltype(zero);
    const T* p = t.data<T>();
    for (std::size_t i = 0; i < t.numel(); ++i)
      if (!std::isfinite(p[i])) return static_cast<std::ptrdiff_t>(i);
    return -1;
  });
}
}  // namespace

const char* compare_name(CompareKind kind) {
  switch (kind) {
    case CompareKind::less:
      return "less";
    case CompareKind::less_equal:
      return "less_equal";
    case CompareKind::greater:
      return "greater";
    case CompareKind::greater_equal:
      return "greater_equal";
    case CompareKind::equal:
      return "equal";
    case CompareKind::not_equal:
      return "not_equal";
  }
  return "?";
}

NoGrad::NoGrad() : previous_(active_) { active_ = true; }
NoGrad::~NoGrad() { active_ = previous_; }

namespace {
std::atomic<std::uint64_t> next_tape_id{1};  // the only process-wide state: a thread-safe counter
}  // namespace

Tape::Tape()
    : id_(next_tape_id.fetch_add(1, std::memory_order_relaxed)), owner_(std::this_thread::get_id()) {}

void Tape::check_thread(const char* what) const {
  if (std::this_thread::get_id() != owner_) {
    std::ostringstream os;
    os << what << ": this tape belongs to thread " << owner_ << " but was used from thread "
       << std::this_thread::get_id() << " (make one tape per thread)";
    throw TapeError(os.str());
  }
}

void Tape::check_var(const Var& v, const char* what) const {
  if (v.tape_ == nullptr) throw TapeError(std::string(what) + ": variable is not attached to a tape");
  if (v.tape_ != this) throw TapeError(std::string(what) + ": variables from two different tapes mixed");
  if (v.generation_ != generation_) {
    throw TapeError(std::string(what) + ": variable #" + std::to_string(v.index_) +
                    " was recorded before the tape was cleared (recorded in generation " +
                    std::to_string(v.generation_) + ", tape is at generation " + std::to_string(generation_) +
                    ")");
  }
}

Var Tape::variable(const Tensor& value) {
  if (value.rank() == 0 && value.dtype() == DType::f64) {
    // Scalar code's inputs, a thousand at a time: straight to the array of reals, no tensor copied.
    if (std::this_thread::get_id() != owner_) check_thread("variable");
    const double x = *static_cast<const double*>(value.raw_data());
    if (detect_anomaly_ && !std::isfinite(x)) throw_non_finite(nodes_.size(), Op::Input, x);
    new_entry(Op::Input).real = true;
    reals_.push_back(x);
  } else {
    record(Op::Input, {}, value);
  }
  nodes_.back().needs_grad = true;
  const auto index = static_cast<std::int32_t>(nodes_.size() - 1);
  inputs_.push_back(index);
  return Var(this, index, generation_);
}

Var Tape::constant(const Tensor& value) { return record(Op::Constant, {}, value); }

namespace {
// The failures of recording, kept out of line so that the recording path stays short.
[[noreturn, gnu::cold, gnu::noinline]] void throw_too_many_inputs(Op op, std::size_t got) {
  throw ValueError(std::string(op_name(op)) + ": at most " + std::to_string(Node::max_inputs) +
                   " inputs, got " + std::to_string(got));
}
}  // namespace

// The bookkeeping every entry shares: checks, input links, needs_grad, attributes.
[[gnu::always_inline]] inline Node& Tape::append(Op op, std::span<const Var> inputs, const Attrs* attrs,
                                                 double constant) {
  if (std::this_thread::get_id() != owner_) check_thread(op_name(op));  // names only on failure
  if (inputs.size() > static_cast<std::size_t>(Node::max_inputs)) throw_too_many_inputs(op, inputs.size());
  for (const Var& v : inputs)
    if (v.tape_ != this || v.generation_ != generation_) check_var(v, op_name(op));
  bool any_input_needs_grad = false, all_inputs_real = true;
  for (const Var& v : inputs) {
    const Node& in = nodes_[static_cast<std::size_t>(v.index_)];
    any_input_needs_grad |= in.needs_grad;
    all_inputs_real &= in.real;
  }
  Node& node = new_entry(op);
  node.scalar_lane = !inputs.empty() && all_inputs_real && rules::in_scalar_lane(op);
  link(node, inputs, any_input_needs_grad, attrs, constant);
  return node;
}

void Tape::set_value(std::size_t i, Tensor&& value) {
  const Node& n = nodes_[i];
  n.deferred = false;
  if (n.real)
    reals_[i] = *value.data<double>();
  else
    values_[static_cast<std::size_t>(tables_[i].value)] = std::move(value);
}

rules::EvalArgs Tape::eval_args(std::size_t i) const {
  const Node& n = nodes_[i];
  rules::EvalArgs args;
  args.num_inputs = n.num_inputs;
  args.attrs = attrs_of(i);
  args.constant = n.constant();
  for (int k = 0; k < n.num_inputs; ++k)
    args.in[static_cast<std::size_t>(k)] =
        &value(static_cast<std::size_t>(n.inputs[static_cast<std::size_t>(k)]));
  return args;
}

void Tape::compute_deferred(std::size_t i) const {
  const Node& n = nodes_[i];
  rules::eval_into_op(n.op, eval_args(i), values_[static_cast<std::size_t>(tables_[i].value)]);
  n.deferred = false;
}

const Tensor& Tape::real_as_tensor(std::size_t i) const {
  std::int32_t& slot = tables_[i].value;
  if (slot < 0) {
    slot = static_cast<std::int32_t>(values_.size());
    values_.emplace_back();
    real_tensors_.push_back(static_cast<std::int32_t>(i));
  }
  Tensor& t = values_[static_cast<std::size_t>(slot)];
  *t.data<double>() = reals_[i];
  return t;
}

void Tape::throw_non_finite(std::size_t entry, Op op, double value) {
  throw Error("anomaly: entry #" + std::to_string(entry) + " (" + op_name(op) + ") produced " +
              std::to_string(value));
}

Var Tape::record(Op op, std::span<const Var> inputs, Tensor value, const Attrs* attrs, double constant) {
  if (detect_anomaly_) {
    const std::ptrdiff_t bad = first_non_finite(value);
    if (bad >= 0) {
      throw Error("anomaly: entry #" + std::to_string(nodes_.size()) + " (" + op_name(op) + ") produced " +
                  std::to_string(value.at(static_cast<std::size_t>(bad))) + " at element " +
                  std::to_string(bad) + " of its result of shape " + value.shape().str());
    }
  }
  if (value.rank() == 0 && value.dtype() == DType::f64)
    return record_real(op, inputs, value.item(), attrs, constant);
  return record_tensor(op, inputs, std::move(value), attrs, constant);
}

Var Tape::record_tensor(Op op, std::span<const Var> inputs, Tensor&& value, const Attrs* attrs,
                        double constant) {
  Node& node = append(op, inputs, attrs, constant);
  node.scalar_lane = false;
  tables_[nodes_.size() - 1].value = static_cast<std::int32_t>(values_.size());
  reals_.push_back(0.0);
  values_.emplace_back(std::move(value));
  return Var(this, static_cast<std::int32_t>(nodes_.size() - 1), generation_);
}

Var Tape::record_deferred(Op op, std::span<const Var> inputs, Tensor layout, const Attrs* attrs) {
  if (layout.rank() == 0 && layout.dtype() == DType::f64)  // real values live in the scalar array
    throw Error(std::string("internal: ") + op_name(op) + ": a 0-d float64 value can not be deferred");
  const Var v = record_tensor(op, inputs, std::move(layout), attrs, 0.0);
  nodes_[static_cast<std::size_t>(v.index_)].deferred = true;
  return v;
}

Var Tape::record_real(Op op, std::span<const Var> inputs, double value, const Attrs* attrs, double constant) {
  if (detect_anomaly_ && !std::isfinite(value)) throw_non_finite(nodes_.size(), op, value);
  Node& node = append(op, inputs, attrs, constant);
  node.real = true;
  reals_.push_back(value);
  return Var(this, static_cast<std::int32_t>(nodes_.size() - 1), generation_);
}

std::size_t Tape::value_bytes() const {
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    bytes += nodes_[i].real ? sizeof(double) : values_[static_cast<std::size_t>(tables_[i].value)].nbytes();
  return bytes;
}

void Tape::clear() {
  check_thread("clear");
  nodes_.clear();
  values_.clear();
  reals_.clear();
  real_tensors_.clear();
  tables_.clear();
  attrs_.clear();
  inputs_.clear();
  ++generation_;
}

namespace {
std::string entry_label(const Tape& tape, std::size_t i) {
  const Node& n = tape.node(i);
  std::ostringstream os;
  os << op_name(n.op);
  if (rules::op_has_constant(n.op)) os << "(c=" << n.constant() << ")";
  if (const Attrs* at = tape.attrs_of(i)) {
    switch (n.op) {
      case Op::PowScalar:
        os << "(p=" << at->scalar << ")";
        break;
      case Op::Compare:
        os << "(" << compare_name(at->compare) << ")";
        break;
      case Op::Branch:
        os << "(recorded " << (at->branch_taken ? "true" : "false") << ")";
        break;
      case Op::Sum:
      case Op::Max:
      case Op::LogSumExp:
        if (at->axis == Attrs::all_axes)
          os << "(all)";
        else
          os << "(axis=" << at->axis << (at->keepdims ? ", keepdims" : "") << ")";
        break;
      case Op::Custom:
        os << "(" << at->custom->name() << ")";
        break;
      default:
        break;
    }
  }
  return os.str();
}
}  // namespace

std::string Tape::listing() const {
  std::ostringstream os;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    const Node& n = nodes_[i];
    os << '%' << i << " = " << entry_label(*this, i);
    for (int k = 0; k < n.num_inputs; ++k)
      os << (k == 0 ? " " : ", ") << '%' << n.inputs[static_cast<std::size_t>(k)];
    const Tensor& v = value(i);
    os << "  : " << dtype_name(v.dtype()) << v.shape().str();
    if (v.numel() == 1) os << " = " << v.item();
    if (!n.needs_grad && n.op != Op::Constant) os << "  [no grad]";
    os << '\n';
  }
  return os.str();
}

std::string Tape::to_dot() const {
  std::ostringstream os;
  os << "digraph tape {\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\"];\n";
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    const Node& n = nodes_[i];
    const char* style = n.op == Op::Input      ? ", style=filled, fillcolor=\"#cde8ff\""
                        : n.op == Op::Constant ? ", style=dashed"
                                               : "";
    os << "  n" << i << " [label=\"%" << i << " " << entry_label(*this, i) << "\\n"
       << value_layout(i).shape().str() << "\"" << style << "];\n";
    for (int k = 0; k < n.num_inputs; ++k)
      os << "  n" << n.inputs[static_cast<std::size_t>(k)] << " -> n" << i << ";\n";
  }
  os << "}\n";
  return os.str();
}

}  // namespace jetgrad
