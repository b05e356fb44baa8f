#include "nn/module.hpp"

#include <sstream>
#include <utility>

namespace jetgrad::nn {

Parameter::Parameter(std::string name, Tensor v) : value(std::move(v)), name_(std::move(name)) {
  zero_grad();
}

void Parameter::zero_grad() {
  if (!(zeros_.shape() == value.shape()) || zeros_.dtype() != value.dtype())
    zeros_ = Tensor::zeros(value.shape(), value.dtype());
  grad = zeros_;
}

void Parameter::accumulate_grad(Tensor&& g) {
  // Any write to grad since zero_grad detached it from zeros_ (copy on write), so the same buffer
  // means untouched zeros. (Inline tensors never compare equal: they take the += path.)
  const bool untouched = std::as_const(grad).raw_data() == std::as_const(zeros_).raw_data() &&
                         grad.shape() == g.shape() && grad.dtype() == g.dtype();
  if (untouched)
    grad = std::move(g);
  else
    grad += g;
}

std::optional<Var> Parameter::bound(const Tape& tape) const {
  if (tape_id_ != tape.id() || generation_ != tape.generation()) return std::nullopt;
  return var_;
}

Var Parameter::var(Tape& tape) {
  if (auto v = bound(tape)) return *v;
  bind(requires_grad ? tape.variable(value) : tape.constant(value));
  return var_;
}

void Parameter::bind(const Var& v) {
  if (!(v.shape() == value.shape()) || v.dtype() != value.dtype()) {
    throw ShapeError("parameter '" + name_ + "': cannot bind a variable of " + dtype_name(v.dtype()) +
                     v.shape().str() + " to a parameter of " + dtype_name(value.dtype()) +
                     value.shape().str());
  }
  tape_id_ = v.tape()->id();
  generation_ = v.tape()->generation();
  var_ = v;
}

Parameter& Module::register_parameter(std::string name, Tensor value) {
  for (const auto& p : parameters_)
    if (p->name() == name) throw ValueError("register_parameter: '" + name + "' is already registered");
  parameters_.push_back(std::make_unique<Parameter>(std::move(name), std::move(value)));
  return *parameters_.back();
}

Tensor& Module::register_buffer(std::string name, Tensor value) {
  buffers_.emplace_back(std::move(name), std::make_unique<Tensor>(std::move(value)));
  return *buffers_.back().second;
}

void Module::collect(const std::string& prefix, std::vector<std::pair<std::string, Parameter*>>& out) {
  for (const auto& p : parameters_) out.emplace_back(prefix + p->name(), p.get());
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out);
}

void Module::collect_buffers(const std::string& prefix, std::vector<std::pair<std::string, Tensor*>>& out) {
  for (const auto& [name, b] : buffers_) out.emplace_back(prefix + name, b.get());
  for (const auto& [name, child] : children_) child->collect_buffers(prefix + name + ".", out);
}

std::vector<std::pair<std::string, Parameter*>> Module::named_parameters() {
  std::vector<std::pair<std::string, Parameter*>> out;
  collect("", out);
  return out;
}

std::vector<Parameter*> Module::parameters() {
  std::vector<Parameter*> out;
  for (auto& [name, p] : named_parameters()) out.push_back(p);
  return out;
}

std::size_t Module::num_parameters() {
  std::size_t n = 0;
  for (Parameter* p : parameters()) n += p->value.numel();
  return n;
}

std::vector<std::pair<std::string, Tensor*>> Module::named_buffers() {
  std::vector<std::pair<std::string, Tensor*>> out;
  collect_buffers("", out);
  return out;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::zero_grad() {
  for (Parameter* p : parameters()) p->zero_grad();
}

NamedTensors Module::state() {
  NamedTensors out;
  for (auto& [name, p] : named_parameters()) out.emplace_back(name, p->value);
  for (auto& [name, b] : named_buffers()) out.emplace_back(name, *b);
  return out;
}

void Module::load_state(const NamedTensors& state, const std::string& source) {
  std::vector<std::pair<std::string, Tensor*>> targets;
  for (auto& [name, p] : named_parameters()) targets.emplace_back(name, &p->value);
  for (auto& [name, b] : named_buffers()) targets.emplace_back(name, b);
  if (state.size() != targets.size()) {
    // Name the first entry that one side has and the other lacks.
    std::string detail;
    for (const auto& [name, target] : targets) {
      bool found = false;
      for (const auto& [sname, t] : state) found |= sname == name;
      if (!found) {
        detail = "; it lacks the model's '" + name + "'";
        break;
      }
    }
    if (detail.empty()) {
      for (const auto& [sname, t] : state) {
        bool found = false;
        for (const auto& [name, target] : targets) found |= sname == name;
        if (!found) {
          detail = "; the model has no '" + sname + "'";
          break;
        }
      }
    }
    throw Error(source + ": holds " + std::to_string(state.size()) + " tensors, the model has " +
                std::to_string(targets.size()) + " parameters and buffers" + detail +
                " (a checkpoint of another model?)");
  }
  // Validate everything before changing anything.
  std::vector<const Tensor*> sources(targets.size(), nullptr);
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const auto& [name, target] = targets[i];
    for (const auto& [sname, t] : state)
      if (sname == name) sources[i] = &t;
    if (sources[i] == nullptr)
      throw Error(source + ": has no entry '" + name + "' (a checkpoint of another model?)");
    if (!(sources[i]->shape() == target->shape()) || sources[i]->dtype() != target->dtype()) {
      throw Error(source + ": entry '" + name + "' is " + dtype_name(sources[i]->dtype()) +
                  sources[i]->shape().str() + ", the model expects " + dtype_name(target->dtype()) +
                  target->shape().str());
    }
  }
  for (std::size_t i = 0; i < targets.size(); ++i) targets[i].second->copy_from(*sources[i]);
}

std::string Module::summary() {
  std::ostringstream os;
  std::size_t total = 0;
  for (Parameter* p : parameters()) total += p->value.numel();
  os << describe() << "  (" << total << " parameters)\n";
  for (auto& [name, child] : children_) {
    std::string inner = child->summary();
    std::istringstream lines(inner);
    std::string line;
    bool first = true;
    while (std::getline(lines, line)) {
      os << "  " << (first ? "(" + name + ") " : std::string(name.size() + 3, ' ')) << line << "\n";
      first = false;
    }
  }
  return os.str();
}

Sequential::Sequential(std::vector<std::shared_ptr<Module>> layers) {
  for (auto& l : layers) push_back(std::move(l));
}

void Sequential::push_back(std::shared_ptr<Module> layer) {
  if (!layer) throw ValueError("Sequential: cannot add an empty module pointer");
  register_module(std::to_string(layers_.size()), layer);
  layers_.push_back(std::move(layer));
}

Var Sequential::forward(const Var& x) {
  Var y = x;
  for (auto& layer : layers_) y = layer->forward(y);
  return y;
}

void backward(const Var& loss, Module& module) {
  if (!loss.attached()) throw TapeError("backward: the loss is not attached to a tape");
  Tape& tape = *loss.tape();
  std::vector<Parameter*> used;
  std::vector<Var> vars;
  for (Parameter* p : module.parameters()) {
    if (auto v = p->bound(tape); v && p->requires_grad) {
      used.push_back(p);
      vars.push_back(*v);
    }
  }
  std::vector<Tensor> grads = tape.gradient(loss, vars);
  for (std::size_t i = 0; i < used.size(); ++i) used[i]->accumulate_grad(std::move(grads[i]));
}

}  // namespace jetgrad::nn
