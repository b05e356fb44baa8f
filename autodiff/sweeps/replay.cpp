// Replay: re-evaluate every recorded entry, in order, at new input values.
#include <cmath>

#include "autodiff/sweeps/dispatch.hpp"
#include "autodiff/sweeps/scalar_lane.hpp"
#include "autodiff/var.hpp"

namespace jetgrad {

namespace {
[[noreturn, gnu::cold, gnu::noinline]] void throw_input_mismatch(std::size_t k, const Tensor& recorded,
                                                                 const Tensor& given) {
  throw ShapeError("replay: input " + std::to_string(k) + " was recorded as " + dtype_name(recorded.dtype()) +
                   recorded.shape().str() + ", got " + dtype_name(given.dtype()) + given.shape().str());
}
void check_input_count(std::size_t inputs, std::size_t given, const char* what) {
  if (given != inputs) {
    throw ValueError("replay: the tape has " + std::to_string(inputs) + " inputs, got " +
                     std::to_string(given) + " " + what);
  }
}
}  // namespace

void Tape::replay(std::span<const Tensor> new_inputs) {
  check_thread("replay");
  check_input_count(inputs_.size(), new_inputs.size(), "values");
  for (std::size_t k = 0; k < inputs_.size(); ++k) {  // all checked before anything changes
    const auto index = static_cast<std::size_t>(inputs_[k]);
    const Tensor& x = new_inputs[k];
    if (nodes_[index].real) {  // checked as a 0-d float64 without making a tensor of it
      if (x.rank() != 0 || x.dtype() != DType::f64) throw_input_mismatch(k, Tensor(0.0), x);
      continue;
    }
    const Tensor& value = values_[static_cast<std::size_t>(tables_[index].value)];
    if (!(x.shape() == value.shape()) || x.dtype() != value.dtype()) throw_input_mismatch(k, value, x);
  }
  for (std::size_t k = 0; k < inputs_.size(); ++k) {
    const auto index = static_cast<std::size_t>(inputs_[k]);
    if (nodes_[index].real)
      reals_[index] = *static_cast<const double*>(new_inputs[k].raw_data());
    else
      values_[static_cast<std::size_t>(tables_[index].value)].copy_from(new_inputs[k]);
  }
  replay_entries();
}

void Tape::replay(std::span<const double> new_inputs) {
  check_thread("replay");
  check_input_count(inputs_.size(), new_inputs.size(), "doubles");
  for (std::size_t k = 0; k < inputs_.size(); ++k) {
    const auto index = static_cast<std::size_t>(inputs_[k]);
    if (!nodes_[index].real) {
      const Tensor& value = values_[static_cast<std::size_t>(tables_[index].value)];
      throw ShapeError("replay: input " + std::to_string(k) + " was recorded as " +
                       dtype_name(value.dtype()) + value.shape().str() +
                       "; doubles replay only 0-d float64 inputs");
    }
  }
  for (std::size_t k = 0; k < inputs_.size(); ++k)
    reals_[static_cast<std::size_t>(inputs_[k])] = new_inputs[k];
  replay_entries();
}

void Tape::replay_entries() {
  // The scalar lane's loop keeps its arrays and the last entry's value in registers: scalar code
  // mostly reads the entry just computed, and a read of it through memory, right after the store,
  // stalls the loop.
  double* reals = reals_.data();
  const bool anomaly = detect_anomaly_;
  std::int32_t last_entry = -1;
  double last_value = 0.0;
  for_each_entry(
      0, nodes_.size(), [&](std::size_t i, const Node& n) __attribute__((always_inline)) {
        if (!n.scalar_lane) {
          if (n.op != Op::Input && n.op != Op::Constant) replay_entry(i);
          return;
        }
        const auto input = [&](std::size_t k) {
          const std::int32_t j = n.inputs[k];
          return j == last_entry ? last_value : reals[j];
        };
        const auto attrs = [&] { return attrs_of(i); };
        const double value = rules::eval_real(n.op, input, attrs, n.constant());
        reals[i] = value;
        last_entry = static_cast<std::int32_t>(i);
        last_value = value;
        if (anomaly && !std::isfinite(value)) [[unlikely]] {
          throw Error("anomaly: entry #" + std::to_string(i) + " (" + op_name(n.op) + ") produced " +
                      std::to_string(value) + " during replay");
        }
      });
  for (const std::int32_t i : real_tensors_) real_as_tensor(static_cast<std::size_t>(i));
}

// An entry outside the scalar lane: its rules on tensors, then the branch and anomaly checks.
void Tape::replay_entry(std::size_t i) {
  const Node& n = nodes_[i];
  const rules::EvalArgs args = eval_args(i);
  set_value(i, rules::eval_op(n.op, args));
  const Tensor& result = value(i);
  if (n.op == Op::Branch) {
    const bool taken = result.item() != 0.0;
    if (taken != args.attrs->branch_taken) {
      throw TapeError("replay: the branch recorded at entry #" + std::to_string(i) + " (on entry #" +
                      std::to_string(n.inputs[0]) + ") was " + (args.attrs->branch_taken ? "true" : "false") +
                      " when recorded and is " + (taken ? "true" : "false") +
                      " at the new inputs; the recorded tape does not describe this point, record it again");
    }
  }
  if (detect_anomaly_) {
    for (std::size_t e = 0; e < result.numel(); ++e) {
      if (!std::isfinite(result.at(e))) {
        throw Error("anomaly: entry #" + std::to_string(i) + " (" + op_name(n.op) + ") produced " +
                    std::to_string(result.at(e)) + " at element " + std::to_string(e) + " during replay");
      }
    }
  }
}

}  // namespace jetgrad
