// Replay: re-evaluate every recorded entry, in order, at new input values.
#include <cmath>

#include "autodiff/sweeps/dispatch.hpp"
#include "autodiff/var.hpp"

namespace jetgrad {

void Tape::replay(std::span<const Tensor> new_inputs) {
  check_thread("replay");
  if (new_inputs.size() != inputs_.size()) {
    throw ValueError("replay: the tape has " + std::to_string(inputs_.size()) + " inputs, got " +
                     std::to_string(new_inputs.size()) + " values");
  }
  for (std::size_t k = 0; k < inputs_.size(); ++k) {
    Tensor& slot = nodes_[static_cast<std::size_t>(inputs_[k])].value;
    if (!(new_inputs[k].shape() == slot.shape()) || new_inputs[k].dtype() != slot.dtype()) {
      throw ShapeError("replay: input " + std::to_string(k) + " was recorded as " + dtype_name(slot.dtype()) +
                       slot.shape().str() + ", got " + dtype_name(new_inputs[k].dtype()) +
                       new_inputs[k].shape().str());
    }
    slot.copy_from(new_inputs[k]);
  }
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    Node& n = nodes_[i];
    if (n.op == Op::Input || n.op == Op::Constant) continue;
    if (n.scalar_lane) {  // 0-d float64: plain double arithmetic, written in place
      std::array<rules::Real, Node::max_inputs> values;
      rules::EvalArgsT<rules::Real> real_args;
      real_args.num_inputs = n.num_inputs;
      real_args.attrs = attrs_of(n);
      for (int k = 0; k < n.num_inputs; ++k) {
        const auto ik = static_cast<std::size_t>(k);
        values[ik].v = *nodes_[static_cast<std::size_t>(n.inputs[ik])].value.data<double>();
        real_args.in[ik] = &values[ik];
      }
      *n.value.data<double>() = rules::eval_scalar(n.op, real_args).v;
      if (detect_anomaly_ && !std::isfinite(*n.value.data<double>())) {
        throw Error("anomaly: entry #" + std::to_string(i) + " (" + op_name(n.op) + ") produced " +
                    std::to_string(*n.value.data<double>()) + " during replay");
      }
      continue;
    }
    rules::EvalArgs args;
    args.num_inputs = n.num_inputs;
    args.attrs = attrs_of(n);
    for (int k = 0; k < n.num_inputs; ++k)
      args.in[static_cast<std::size_t>(k)] =
          &nodes_[static_cast<std::size_t>(n.inputs[static_cast<std::size_t>(k)])].value;
    n.value = rules::eval_op(n.op, args);
    if (n.op == Op::Branch) {
      const bool taken = n.value.item() != 0.0;
      if (taken != args.attrs->branch_taken) {
        throw TapeError(
            "replay: the branch recorded at entry #" + std::to_string(i) + " (on entry #" +
            std::to_string(n.inputs[0]) + ") was " + (args.attrs->branch_taken ? "true" : "false") +
            " when recorded and is " + (taken ? "true" : "false") +
            " at the new inputs; the recorded tape does not describe this point, record it again");
      }
    }
    if (detect_anomaly_) {
      for (std::size_t e = 0; e < n.value.numel(); ++e) {
        if (!std::isfinite(n.value.at(e))) {
          throw Error("anomaly: entry #" + std::to_string(i) + " (" + op_name(n.op) + ") produced " +
                      std::to_string(n.value.at(e)) + " at element " + std::to_string(e) + " during replay");
        }
      }
    }
  }
}

}  // namespace jetgrad
