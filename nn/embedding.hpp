// Embedding: a lookup table of `num_embeddings` rows of size `dim`; the output gathers the rows
// named by integer indices. Initialized N(0, 1) as in PyTorch.
//
//   Generator gen(0);
//   nn::Embedding emb(1000, 64, gen);
//   std::vector<std::size_t> tokens = {5, 17, 5};
//   Var e = emb.lookup(tokens, tape);                      // (3, 64)
//   Var f = emb(tape.constant(Tensor::from({2, 2}, {1, 2, 3, 4})));  // (2, 2, 64), float indices
//
// The gradient flows into the weight (rows used several times accumulate); indices are constants.
// The indices are an attribute of the recorded gather: a replay looks up the same rows.
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "nn/module.hpp"

namespace jetgrad::nn {

class Embedding : public Module {
 public:
  Embedding(std::size_t num_embeddings, std::size_t dim, Generator& gen, DType dtype = DType::f32);

  // `indices` holds non-negative integers (any dtype) of any shape S; the result is S + (dim).
  Var forward(const Var& indices) override;
  // The rows `indices` of the table, shape (indices.size(), dim), on `tape`.
  Var lookup(std::span<const std::size_t> indices, Tape& tape);
  std::string describe() const override;

  Parameter& weight() { return *weight_; }
  std::size_t num_embeddings() const { return num_; }
  std::size_t dim() const { return dim_; }

 private:
  std::size_t num_, dim_;
  Parameter* weight_ = nullptr;
};

}  // namespace jetgrad::nn
