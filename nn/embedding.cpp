#include "nn/embedding.hpp"

#include <cmath>
#include <vector>

namespace jetgrad::nn {

Embedding::Embedding(std::size_t num_embeddings, std::size_t dim, Generator& gen, DType dtype)
    : num_(num_embeddings), dim_(dim) {
  if (num_ == 0 || dim_ == 0) {
    throw ValueError("Embedding: expected positive sizes, got num_embeddings = " + std::to_string(num_) +
                     ", dim = " + std::to_string(dim_));
  }
  weight_ = &register_parameter("weight", normal(Shape{num_, dim_}, 0.0, 1.0, gen, dtype));
}

Var Embedding::lookup(std::span<const std::size_t> indices, Tape& tape) {
  for (std::size_t i = 0; i < indices.size(); ++i) {
    if (indices[i] >= num_) {
      throw ValueError(describe() + ": index " + std::to_string(indices[i]) + " at position " +
                       std::to_string(i) + " is out of range [0, " + std::to_string(num_) + ")");
    }
  }
  return gather(weight_->var(tape), indices, 0);
}

Var Embedding::forward(const Var& indices) {
  if (!indices.attached()) throw TapeError(describe() + ": the indices are not attached to a tape");
  const Tensor& v = indices.value();
  std::vector<std::size_t> idx(v.numel());
  for (std::size_t i = 0; i < idx.size(); ++i) {
    const double d = v.at(i);
    if (!(d >= 0.0) || d != std::floor(d)) {
      throw ValueError(describe() + ": indices must be non-negative integers, got " + std::to_string(d) +
                       " at position " + std::to_string(i));
    }
    idx[i] = static_cast<std::size_t>(d);
  }
  Shape out = v.shape();
  out.push_back(dim_);
  return reshape(lookup(idx, *indices.tape()), out);
}

std::string Embedding::describe() const {
  return "Embedding(" + std::to_string(num_) + ", " + std::to_string(dim_) + ")";
}

}  // namespace jetgrad::nn
