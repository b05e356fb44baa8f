// Generator: the one source of randomness. Every random draw in jetgrad (initializers, dropout,
// shuffling, random directions) takes a Generator explicitly, so a run with the same seed is
// reproducible bit for bit, on any platform: the engine is std::mt19937_64 (fully specified by
// the standard) and the distributions are our own (the standard library's are not portable).
//
//   Generator gen(42);
//   Tensor w = normal(Shape{784, 128}, 0.0, 0.05, gen, DType::f32);
#pragma once

#include <cstdint>
#include <random>

#include "autodiff/tensor.hpp"

namespace jetgrad {

class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0) : engine_(seed) {}

  std::uint64_t next_u64() { return engine_(); }
  // Uniform on [0, 1), 53 random bits.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Standard normal (Box-Muller; the second value of each pair is kept for the next call).
  double normal();
  // Uniform integer in [0, n).
  std::uint64_t below(std::uint64_t n);
  // An independent generator derived from this one (for a sub-task that must not shift the
  // parent's stream when its own use changes).
  Generator split() { return Generator(next_u64()); }

 private:
  std::mt19937_64 engine_;
  double spare_ = 0.0;
  bool has_spare_ = false;
};

Tensor uniform(const Shape& shape, double lo, double hi, Generator& gen, DType dtype = DType::f64);
Tensor normal(const Shape& shape, double mean, double stddev, Generator& gen, DType dtype = DType::f64);
// Each element ±1 with probability 1/2 (Rademacher), as Hutchinson-type estimators use.
Tensor rademacher(const Shape& shape, Generator& gen, DType dtype = DType::f64);

}  // namespace jetgrad
