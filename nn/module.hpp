// Modules: named parameters and buffers, nesting, train/eval mode, saving and loading.
//
//   Generator gen(0);
//   auto model = std::make_shared<nn::Sequential>();
//   model->push_back(std::make_shared<nn::Linear>(784, 128, gen));
//   model->push_back(std::make_shared<nn::ReLU>());
//   model->push_back(std::make_shared<nn::Linear>(128, 10, gen));
//
//   Tape tape;
//   Var logits = (*model)(tape.constant(batch));       // parameters join the tape on first use
//   Var loss = nn::cross_entropy(logits, labels);
//   model->zero_grad();
//   nn::backward(loss, *model);                         // fills every parameter's grad
//
// Ownership: modules are held by std::shared_ptr (children too); a Parameter lives inside its
// module at a fixed address, so references to it stay valid.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "autodiff/autodiff.hpp"
#include "nn/serialize.hpp"

namespace jetgrad::nn {

// A trainable tensor. Between steps it holds its value and the gradient of the last backward;
// during a forward pass it stands on that pass's tape as a variable.
class Parameter {
 public:
  Parameter(std::string name, Tensor value);

  const std::string& name() const { return name_; }
  Tensor value;
  Tensor grad;  // shape of value; zeros until a backward writes it
  bool requires_grad = true;

  // Sets grad to zeros of value's shape. The zeros are a buffer the parameter keeps and grad shares
  // (copy on write), so zeroing costs nothing and a later accumulate_grad can take its gradient as is.
  void zero_grad();
  // grad += g; when grad is still the untouched zeros of zero_grad, g becomes grad without a pass.
  void accumulate_grad(Tensor&& g);

  // The variable for this parameter on `tape`: made (as an input, or a constant when
  // requires_grad is false) on first use in a recording, then reused.
  Var var(Tape& tape);
  // Makes `v` the variable for this parameter on v's tape (for callers that create it themselves).
  void bind(const Var& v);
  // The variable bound on `tape` in its current recording, if any.
  std::optional<Var> bound(const Tape& tape) const;

 private:
  std::string name_;
  Tensor zeros_;  // never written: grad shares it between zero_grad and the next accumulation
  std::uint64_t tape_id_ = 0;
  std::uint32_t generation_ = 0;
  Var var_;
};

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  virtual Var forward(const Var& x) = 0;
  Var operator()(const Var& x) { return forward(x); }
  // The layer's name for listings, e.g. "Linear(784, 128)".
  virtual std::string describe() const = 0;

  // Every parameter of this module and its descendants, with dotted names ("0.weight").
  std::vector<std::pair<std::string, Parameter*>> named_parameters();
  std::vector<Parameter*> parameters();
  std::size_t num_parameters();  // number of scalars
  // Buffers: state that is saved but not trained (BatchNorm's running statistics).
  std::vector<std::pair<std::string, Tensor*>> named_buffers();
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const { return children_; }

  void train(bool on = true);
  void eval() { train(false); }
  bool training() const { return training_; }
  void zero_grad();

  // Parameters and buffers by name (see nn/serialize.hpp for the file format).
  NamedTensors state();
  // Replaces every parameter and buffer from `state`; every name must be present with the same
  // shape and dtype, or nothing is changed and an Error names the first mismatch.
  void load_state(const NamedTensors& state, const std::string& source = "state");
  void save(const std::string& path) { save_tensors(path, state()); }
  void load(const std::string& path) { load_state(load_tensors(path), path); }

  // An indented description of the module tree with parameter counts.
  std::string summary();

 protected:
  Parameter& register_parameter(std::string name, Tensor value);
  Tensor& register_buffer(std::string name, Tensor value);
  template <class M>
  std::shared_ptr<M> register_module(std::string name, std::shared_ptr<M> module) {
    children_.emplace_back(std::move(name), module);
    return module;
  }

 private:
  void collect(const std::string& prefix, std::vector<std::pair<std::string, Parameter*>>& out);
  void collect_buffers(const std::string& prefix, std::vector<std::pair<std::string, Tensor*>>& out);
  std::vector<std::unique_ptr<Parameter>> parameters_;
  std::vector<std::pair<std::string, std::unique_ptr<Tensor>>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// Modules applied one after the other; children are named "0", "1", ...
class Sequential : public Module {
 public:
  Sequential() = default;
  explicit Sequential(std::vector<std::shared_ptr<Module>> layers);
  void push_back(std::shared_ptr<Module> layer);
  std::size_t size() const { return layers_.size(); }
  Module& operator[](std::size_t i) { return *layers_.at(i); }

  Var forward(const Var& x) override;
  std::string describe() const override { return "Sequential"; }

 private:
  std::vector<std::shared_ptr<Module>> layers_;
};

// Reverse sweep from a scalar `loss` into every parameter of `module` used on loss's tape:
// adds the gradient to Parameter::grad (call zero_grad first, as in PyTorch).
void backward(const Var& loss, Module& module);

}  // namespace jetgrad::nn
