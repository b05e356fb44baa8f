// Dropout: in training mode each element is zeroed with probability p and the survivors are
// scaled by 1 / (1 - p) (inverted dropout, so the expectation is unchanged); in eval mode it is the
// identity. The masks come from a Generator the module owns, split off the one passed at
// construction, so a run is reproducible bit for bit.
//
//   Generator gen(0);
//   nn::Dropout drop(0.5, gen);
//   Var h = drop(x);          // training: a fresh mask on every call
//   drop.eval();
//   Var same = drop(x);       // identity
//
// The mask is a constant of the tape (no gradient into it; a replay reuses the recorded mask).
// reseed() restarts the mask stream, e.g. to compare two passes with the same masks.
#pragma once

#include <cstdint>
#include <string>

#include "nn/module.hpp"

namespace jetgrad::nn {

class Dropout : public Module {
 public:
  Dropout(double p, Generator& gen);
  Dropout(double p, std::uint64_t seed);

  Var forward(const Var& x) override;
  std::string describe() const override;
  double p() const { return p_; }
  void reseed(std::uint64_t seed) { gen_ = Generator(seed); }
  // The scaled keep-mask a training-mode forward multiplies by: 0 or 1/(1-p) per element.
  Tensor draw_mask(const Shape& shape, DType dtype);

 private:
  double p_;
  Generator gen_;
};

}  // namespace jetgrad::nn
