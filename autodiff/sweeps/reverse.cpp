// The reverse sweep: one backward loop over the tape accumulating adjoints.
//
//   ā_i = Σ over entries j that use i of  vjp_j(ā_j)   (j > i, so one pass from the end suffices)
//
// The same loop runs on values (X = Tensor: the fast path for training) and on variables
// (X = Var: every rule application is recorded on the tape, so the gradient can be
// differentiated again). Entries that no input reaches (needs_grad false) and cotangents that are
// symbolic zeros are skipped.
#include <algorithm>
#include <cmath>
#include <optional>
#include <type_traits>
#include <vector>

#include "autodiff/sweeps/dispatch.hpp"
#include "autodiff/sweeps/scalar_lane.hpp"
#include "autodiff/var.hpp"

namespace jetgrad {

namespace {

template <class X>
struct Sweep;

// Anomaly mode: names the entry whose reverse rule made the first NaN or infinity (the forward
// values are checked as they are recorded, tape.cpp).
void check_cotangent_finite(const Tape& tape, std::size_t entry, std::int32_t input, double value,
                            std::size_t element) {
  if (std::isfinite(value)) return;
  throw Error("anomaly: the reverse rule of entry #" + std::to_string(entry) + " (" +
              op_name(tape.node(entry).op) + ") produced " + std::to_string(value) + " at element " +
              std::to_string(element) + " of the cotangent of entry #" + std::to_string(input));
}
void check_cotangent_finite(const Tape& tape, std::size_t entry, std::int32_t input, const Tensor& g) {
  for (std::size_t e = 0; e < g.numel(); ++e) check_cotangent_finite(tape, entry, input, g.at(e), e);
}

// Adjoint accumulation over values. Adjoints of 0-d float64 entries are plain doubles, and
// scalar-lane entries run their rules on doubles (ops/real.hpp); other adjoints are tensors kept
// in a side table, so the per-entry bookkeeping is one int and one double.
template <>
struct Sweep<Tensor> {
  static constexpr std::int32_t zero = -1, in_scalar = -2;
  static constexpr std::int32_t handed = -3;  // and below: handed to grads[handed - slot] (vjp)

  Tape& tape;
  detail::PoolVector<double> scalar;      // adjoints of real entries, from 0
  detail::PoolVector<std::int32_t> slot;  // zero, in_scalar, or an index into tensors
  // A tensor adjoint is scale · value: linear rules hand g on with a factor (rules::Cotangents),
  // applied only when two adjoints of different factors meet or a gradient is handed out.
  struct Adjoint {
    Tensor value;
    double scale = 1.0;
  };
  detail::StableVector<Adjoint> tensors;  // chunks from the buffer cache
  // Scratch of the tensor steps, kept rather than made afresh each step: a real entry's adjoint as
  // a tensor (for the tensor rules), and the cotangents, emptied after each step.
  Tensor real_g;
  rules::Cotangents<Tensor> gin;

  explicit Sweep(Tape& t) : tape(t), scalar(t.size(), 0.0), slot(t.size(), zero) {}

  bool has(std::size_t i) const { return slot[i] != zero; }

  void accumulate_real(std::size_t i, double g) {  // i is real: its slot is zero or in_scalar
    scalar[i] += g;
    slot[i] = in_scalar;
  }
  void accumulate(std::int32_t index, Tensor&& g) {
    const auto i = static_cast<std::size_t>(index);
    if (tape.node(i).real)
      accumulate_real(i, g.item());
    else
      accumulate_tensor(i, std::move(g), 1.0);
  }
  // Adds s · g into the adjoint of entry i (not real).
  void accumulate_tensor(std::size_t i, Tensor&& g, double s) {
    if (slot[i] < 0) {
      slot[i] = static_cast<std::int32_t>(tensors.size());
      tensors.push_back({std::move(g), s});
      return;
    }
    const auto j = static_cast<std::size_t>(slot[i]);
    Tensor& acc = tensors[j].value;
    if (s != tensors[j].scale) {  // else acc += g keeps the common factor
      apply_scale(j);
      if (s != 1.0) {
        if (g.shape() == acc.shape()) {
          axpy(s, g, acc);
          return;
        }
        scale(g, s);
      }
    }
    acc += g;
  }
  // Multiplies adjoint j out (a shared buffer is copied first: Tensor's writes detach it).
  void apply_scale(std::size_t j) {
    Adjoint& a = tensors[j];
    if (a.scale != 1.0) {
      scale(a.value, a.scale);
      a.scale = 1.0;
    }
  }
  // Appends the adjoint of entry i to out as a tensor (moved out of the sweep), or zeros; built in
  // place, as scalar code asks for one per variable.
  void take_adjoint(std::size_t i, std::vector<Tensor>& out) {
    if (slot[i] == in_scalar && tape.node(i).needs_grad) {
      out.emplace_back(scalar[i]);
    } else if (slot[i] >= 0) {
      const auto j = static_cast<std::size_t>(slot[i]);
      apply_scale(j);
      out.push_back(std::move(tensors[j].value));
    } else {
      const Tensor& value = tape.value(i);
      out.push_back(Tensor::zeros(value.shape(), value.dtype()));
    }
  }
  void release(std::size_t i) {  // frees a tensor adjoint once used (doubles need no freeing)
    if (slot[i] >= 0) {
      tensors[static_cast<std::size_t>(slot[i])].value = Tensor();
      slot[i] = zero;
    }
  }

  // Out of the lane loop, as its registers matter. last_use: the adjoint is released after this
  // step, so the rule may write over its buffer.
  [[gnu::noinline]] void step(std::size_t i, bool last_use) {
    const Node& n = tape.node(i);
    const bool real = slot[i] == in_scalar;
    const bool anomaly = tape.detect_anomaly();
    double g_scale = 1.0;  // the rule runs on g; its cotangents carry the factor
    if (real) {
      real_g = Tensor(scalar[i]);
    } else {
      const auto j = static_cast<std::size_t>(slot[i]);
      if (anomaly) apply_scale(j);  // anomaly mode checks true values
      g_scale = tensors[j].scale;
    }
    Tensor& g = real ? real_g : tensors[static_cast<std::size_t>(slot[i])].value;
    rules::VjpArgs<Tensor> args{g, {}, tape.value(i), tape.attrs_of(i)};
    args.constant = n.constant();
    if (last_use) args.spent_g = &g;
    std::array<bool, Node::max_inputs> input_real{};
    for (std::size_t k = 0; k < n.num_inputs; ++k) {
      const auto input = static_cast<std::size_t>(n.inputs[k]);
      const Node& in = tape.node(input);
      args.in[k] = &tape.value(input);
      args.wanted[k] = in.needs_grad;
      input_real[k] = in.real;
      // Rules may add into an existing adjoint in place (ops/rule_support.hpp), when its factor is
      // g's up to sign; anomaly mode checks each contribution, so it gets them all as cotangents.
      const std::int32_t s = slot[input];
      if (s < 0 || anomaly) continue;
      const double acc_scale = tensors[static_cast<std::size_t>(s)].scale;
      if (acc_scale == g_scale || acc_scale == -g_scale) {
        args.adjoint[k] = &tensors[static_cast<std::size_t>(s)].value;
        args.add_sign[k] = acc_scale == g_scale ? 1.0 : -1.0;
      }
    }
    rules::vjp_op(n.op, args, gin);
    for (std::size_t k = 0; k < n.num_inputs; ++k) {
      std::optional<Tensor>& gk = gin[k];
      if (!gk) continue;
      if (args.wanted[k]) {
        const std::int32_t in = n.inputs[k];
        double s = g_scale * gin.scale[k];
        if (anomaly) {
          if (s != 1.0) scale(*gk, s);
          s = 1.0;
          check_cotangent_finite(tape, i, in, *gk);
        }
        if (input_real[k])
          accumulate_real(static_cast<std::size_t>(in), s * gk->item());
        else
          accumulate_tensor(static_cast<std::size_t>(in), std::move(*gk), s);
      }
      gk.reset();  // empty for the next step
      gin.scale[k] = 1.0;
    }
  }

  // The lane's arrays and the anomaly flag, copied into the reverse loop's locals: the loop also
  // calls out-of-line code (tensor steps), across which the compiler would reload members.
  struct Lane {
    double* adjoint;
    std::int32_t* slot;
    const double* reals;
    bool anomaly;
  };
  Lane lane() { return {scalar.data(), slot.data(), tape.real_values(), tape.detect_anomaly()}; }

  // A lane entry's step: its rule on doubles, the cotangents added straight into the inputs'
  // adjoints. Forced inline into run()'s loop, so that scalar code's reverse sweep is a switch per
  // entry over flat arrays; anomaly mode's checked step is out of line, to keep that loop's
  // variables in registers.
  [[gnu::always_inline]] void step_real(const Lane& lane, std::size_t i, const Node& n) {
    if (lane.anomaly) [[unlikely]] {
      step_real_checked(lane, i, n);
      return;
    }
    // Every cotangent is added: a double costs less than asking whether its input needs it, and
    // adjoints of entries that need none are never read (run, take_adjoint).
    auto add = [&](std::int32_t input, double g) {
      lane.adjoint[input] += g;
      lane.slot[input] = in_scalar;
    };
    const auto attrs = [&] { return tape.attrs_of(i); };
    rules::vjp_real(n.op, lane.adjoint[i], lane.reals[i], n.inputs.data(), lane.reals, attrs, n.constant(),
                    add);
  }
  [[gnu::noinline]] void step_real_checked(const Lane& lane, std::size_t i, const Node& n) {
    auto add_checked = [&](std::int32_t input, double g) {
      if (tape.node(static_cast<std::size_t>(input)).needs_grad) check_cotangent_finite(tape, i, input, g, 0);
      accumulate_real(static_cast<std::size_t>(input), g);
    };
    const auto attrs = [&] { return tape.attrs_of(i); };
    rules::vjp_real(n.op, lane.adjoint[i], lane.reals[i], n.inputs.data(), lane.reals, attrs, n.constant(),
                    add_checked);
  }
};

// Adjoint accumulation over variables: rules record onto the tape as they go (entries never move,
// so references to earlier ones stay valid). An adjoint may be "one": 1 at every element of its
// entry's shape, not yet on the tape (a gradient's seed, handed on by sums and additions). Rules
// that use it (VjpArgs::g_is_one) record nothing for multiplying by it; for the others, and where
// it meets another contribution, it becomes a constant of ones.
template <>
struct Sweep<Var> {
  Tape& tape;
  std::vector<std::optional<Var>> adjoint;
  std::vector<std::uint8_t> one;  // adjoint[i] is one (and holds a placeholder)
  std::vector<Var> handles;       // Var for every entry that existed when the sweep started

  bool has(std::size_t i) const { return adjoint[i].has_value(); }
  void release(std::size_t i) {
    adjoint[i].reset();
    one[i] = 0;
  }
  Var ones_of(std::size_t i) const {
    const Tensor& layout = tape.value_layout(i);
    return tape.constant(Tensor::ones(layout.shape(), layout.dtype()));
  }
  // The adjoint of entry i as a variable on the tape. A one's placeholder is the seed, a constant
  // of ones of the output's layout: it serves as is where the layouts agree (at the output itself).
  const Var& materialized(std::size_t i) {
    if (one[i]) {
      const Tensor& layout = tape.value_layout(i);
      if (!(adjoint[i]->shape() == layout.shape()) || adjoint[i]->dtype() != layout.dtype())
        adjoint[i] = ones_of(i);
      one[i] = 0;
    }
    return *adjoint[i];
  }
  void accumulate(std::int32_t index, Var&& g, bool g_is_one = false) {
    const auto i = static_cast<std::size_t>(index);
    auto& slot = adjoint[i];
    if (!slot) {
      slot = std::move(g);
      one[i] = g_is_one;
      return;
    }
    const Var sum = materialized(i) + (g_is_one ? ones_of(i) : g);
    slot = sum;
  }
  void step(std::size_t i) {
    const Node& n = tape.node(i);
    const int num_inputs = n.num_inputs;
    const std::array<std::int32_t, Node::max_inputs> inputs = n.inputs;
    Var g = *adjoint[i];
    rules::VjpArgs<Var> args{g, {}, handles[i], tape.attrs_of(i)};
    args.constant = n.constant();
    for (int k = 0; k < num_inputs; ++k) {
      const auto input = static_cast<std::size_t>(inputs[static_cast<std::size_t>(k)]);
      args.in[static_cast<std::size_t>(k)] = &handles[input];
      args.wanted[static_cast<std::size_t>(k)] = tape.node(input).needs_grad;
    }
    if (one[i]) {
      args.g_is_one = rules::takes_one_g(n.op, args);
      if (!args.g_is_one) g = materialized(i);  // args.g refers to g
    }
    rules::Cotangents<Var> gin;
    rules::vjp_op(n.op, args, gin);
    for (int k = 0; k < num_inputs; ++k) {
      auto& gk = gin[static_cast<std::size_t>(k)];
      const std::int32_t in = inputs[static_cast<std::size_t>(k)];
      if (gk && tape.node(static_cast<std::size_t>(in)).needs_grad)
        accumulate(in, std::move(*gk), gin.one[static_cast<std::size_t>(k)]);
    }
  }
};

void check_cotangent(const Tensor& value, const Tensor& cotangent, std::size_t k) {
  if (!(cotangent.shape() == value.shape())) {
    throw ShapeError("vjp: cotangent " + std::to_string(k) + " has shape " + cotangent.shape().str() +
                     ", expected the output's shape " + value.shape().str());
  }
  check_same_dtype(value, cotangent, "vjp");
}

// Runs the backward loop from the highest seeded entry down to the lowest entry in `wrt`,
// releasing each adjoint once used (except those asked for).
template <class X>
void run(Sweep<X>& sweep, std::int32_t highest, std::span<const Var> wrt) {
  std::int32_t lowest = highest;
  for (const Var& v : wrt) lowest = std::min(lowest, v.index());
  // Adjoints asked for are kept. Inputs are never stepped nor released, so only asked-for entries
  // that the loop steps need marking: most gradients ask for inputs only and make no array.
  detail::PoolVector<std::uint8_t> keep;
  for (const Var& v : wrt) {
    const std::int32_t i = v.index();
    if (i <= lowest || i > highest || sweep.tape.node(static_cast<std::size_t>(i)).op == Op::Input) continue;
    if (keep.size() == 0) keep.assign(static_cast<std::size_t>(highest) + 1, 0);
    keep[static_cast<std::size_t>(i)] = 1;
  }
  const std::uint8_t* const kept = keep.data();  // null: nothing kept
  const auto released = [kept](std::size_t i) { return kept == nullptr || kept[i] == 0; };
  const auto begin = static_cast<std::size_t>(lowest + 1), end = static_cast<std::size_t>(highest + 1);
  if constexpr (std::is_same_v<X, Tensor>) {
    const auto lane = sweep.lane();
    sweep.tape.for_each_entry_descending(
        begin, end, [&](std::size_t i, const Node& n) __attribute__((always_inline)) {
          if (lane.slot[i] == Sweep<Tensor>::zero || !n.needs_grad) return;  // nothing flows back from here
          if (n.scalar_lane) {  // a double adjoint: nothing to release
            sweep.step_real(lane, i, n);
            return;
          }
          if (n.op == Op::Input) return;
          const bool last_use = released(i);
          sweep.step(i, last_use);
          if (last_use) sweep.release(i);
        });
  } else {  // the recorded sweep appends entries as it goes (for_each_entry allows it)
    sweep.tape.for_each_entry_descending(begin, end, [&](std::size_t i, const Node& n) {
      if (!sweep.has(i) || !n.needs_grad || n.op == Op::Input) return;
      sweep.step(i);
      if (released(i)) sweep.release(i);
    });
  }
}

// A cotangent that is a constant (no gradient flows into it) of ones: a gradient's seed.
bool is_constant_one(const Var& c) {
  if (c.needs_grad()) return false;
  const Tensor& v = c.value();
  for (std::size_t e = 0; e < v.numel(); ++e)
    if (v.at(e) != 1.0) return false;
  return true;
}

// A gradient's output: on `tape`, with one element (other outputs take vjp and a cotangent).
void check_gradient_output(const Tape& tape, const Var& output) {
  tape.check_var(output, "gradient");
  if (output.numel() != 1) {
    throw ShapeError("gradient: the output must have one element, got shape " + output.shape().str() +
                     " (use vjp with a cotangent for other outputs)");
  }
}

// Seeds each output's adjoint with its cotangent and runs the value sweep down to wrt.
void sweep_from(Sweep<Tensor>& sweep, std::span<const Var> outputs, std::span<const Tensor> cotangents,
                std::span<const Var> wrt) {
  std::int32_t highest = -1;
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    sweep.tape.check_var(outputs[k], "vjp");
    check_cotangent(outputs[k].value(), cotangents[k], k);
    if (!sweep.tape.node(static_cast<std::size_t>(outputs[k].index())).needs_grad) continue;
    sweep.accumulate(outputs[k].index(), Tensor(cotangents[k]));
    highest = std::max(highest, outputs[k].index());
  }
  run(sweep, highest, wrt);
}

}  // namespace

std::vector<Tensor> Tape::vjp(std::span<const Var> outputs, std::span<const Tensor> cotangents,
                              std::span<const Var> wrt) {
  check_thread("vjp");
  if (outputs.size() != cotangents.size()) {
    throw ValueError("vjp: " + std::to_string(outputs.size()) + " outputs but " +
                     std::to_string(cotangents.size()) + " cotangents");
  }
  for (const Var& v : wrt)
    if (v.tape_ != this || v.generation_ != generation_) check_var(v, "gradient");
  Sweep<Tensor> sweep(*this);
  sweep_from(sweep, outputs, cotangents, wrt);
  // Each adjoint is handed over, not copied; a variable named twice in wrt gets a copy of it for
  // its later places.
  std::vector<Tensor> grads;
  grads.reserve(wrt.size());  // no reallocation: the copies below read earlier elements
  for (std::size_t k = 0; k < wrt.size(); ++k) {
    const auto entry = static_cast<std::size_t>(wrt[k].index());
    std::int32_t& slot = sweep.slot[entry];
    if (slot <= Sweep<Tensor>::handed) {
      grads.push_back(grads[static_cast<std::size_t>(Sweep<Tensor>::handed - slot)]);
    } else {
      sweep.take_adjoint(entry, grads);
      slot = Sweep<Tensor>::handed - static_cast<std::int32_t>(k);
    }
  }
  return grads;
}

std::vector<Tensor> Tape::vjp(const Var& output, const Tensor& cotangent, std::span<const Var> wrt) {
  return vjp(std::span<const Var>(&output, 1), std::span<const Tensor>(&cotangent, 1), wrt);
}

std::vector<Tensor> Tape::gradient(const Var& output, std::span<const Var> wrt) {
  check_gradient_output(*this, output);
  return vjp(output, Tensor::ones(output.shape(), output.dtype()), wrt);
}

void Tape::gradient(const Var& output, std::span<const Var> wrt, std::span<double> out) {
  check_thread("gradient");
  check_gradient_output(*this, output);
  if (out.size() != wrt.size()) {
    throw ValueError("gradient: " + std::to_string(wrt.size()) + " variables but room for " +
                     std::to_string(out.size()) + " doubles");
  }
  for (std::size_t k = 0; k < wrt.size(); ++k) {
    if (wrt[k].tape_ != this || wrt[k].generation_ != generation_) check_var(wrt[k], "gradient");
    if (!nodes_[static_cast<std::size_t>(wrt[k].index())].real) {
      throw ShapeError("gradient: variable " + std::to_string(k) + " is " + dtype_name(wrt[k].dtype()) +
                       wrt[k].shape().str() + "; gradients into doubles are of 0-d float64 variables");
    }
  }
  Sweep<Tensor> sweep(*this);
  const Tensor seed = Tensor::ones(output.shape(), output.dtype());
  sweep_from(sweep, std::span<const Var>(&output, 1), std::span<const Tensor>(&seed, 1), wrt);
  for (std::size_t k = 0; k < wrt.size(); ++k) {
    const auto entry = static_cast<std::size_t>(wrt[k].index());
    const bool reached = sweep.slot[entry] == Sweep<Tensor>::in_scalar && nodes_[entry].needs_grad;
    out[k] = reached ? sweep.scalar[entry] : 0.0;
  }
}

std::vector<Tensor> Tape::gradient(const Var& output, std::initializer_list<Var> wrt) {
  return gradient(output, std::span<const Var>(wrt.begin(), wrt.size()));
}

std::vector<Var> Tape::vjp_vars(std::span<const Var> outputs, std::span<const Var> cotangents,
                                std::span<const Var> wrt) {
  check_thread("vjp");
  if (outputs.size() != cotangents.size()) {
    throw ValueError("vjp: " + std::to_string(outputs.size()) + " outputs but " +
                     std::to_string(cotangents.size()) + " cotangents");
  }
  for (const Var& v : wrt) check_var(v, "gradient");
  const std::size_t n = nodes_.size();
  Sweep<Var> sweep{*this, std::vector<std::optional<Var>>(n), std::vector<std::uint8_t>(n, 0), {}};
  sweep.handles.reserve(n);
  for (std::size_t i = 0; i < n; ++i)
    sweep.handles.push_back(Var(this, static_cast<std::int32_t>(i), generation_));
  std::int32_t highest = -1;
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    check_var(outputs[k], "vjp");
    check_var(cotangents[k], "vjp");
    check_cotangent(outputs[k].value(), cotangents[k].value(), k);
    if (!nodes_[static_cast<std::size_t>(outputs[k].index())].needs_grad) continue;
    sweep.accumulate(outputs[k].index(), Var(cotangents[k]), is_constant_one(cotangents[k]));
    highest = std::max(highest, outputs[k].index());
  }
  run(sweep, highest, wrt);
  std::vector<Var> grads;
  grads.reserve(wrt.size());
  for (const Var& v : wrt) {
    const auto i = static_cast<std::size_t>(v.index());
    grads.push_back(sweep.adjoint[i] ? sweep.materialized(i) : constant(Tensor::zeros(v.shape(), v.dtype())));
  }
  return grads;
}

std::vector<Var> Tape::gradient_vars(const Var& output, std::span<const Var> wrt) {
  check_gradient_output(*this, output);
  const Var seed = constant(Tensor::ones(output.shape(), output.dtype()));
  return vjp_vars(std::span<const Var>(&output, 1), std::span<const Var>(&seed, 1), wrt);
}

}  // namespace jetgrad
