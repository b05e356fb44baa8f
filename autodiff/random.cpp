#include "autodiff/random.hpp"

#include <cmath>
#include <limits>
#include <numbers>

namespace jetgrad {

double Generator::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u1 = uniform();
  while (u1 <= 0.0) u1 = uniform();  // log(0) is not a number
  const double u2 = uniform();
  const double r = std::sqrt(-2.0 * std::log(u1));
  spare_ = r * std::sin(2.0 * std::numbers::pi * u2);
  has_spare_ = true;
  return r * std::cos(2.0 * std::numbers::pi * u2);
}

std::uint64_t Generator::below(std::uint64_t n) {
  if (n == 0) throw ValueError("Generator::below: n must be positive");
  // Rejection keeps every value equally likely.
  const std::uint64_t limit =
      std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % n;
  std::uint64_t r = engine_();
  while (r >= limit) r = engine_();
  return r % n;
}

namespace {
template <class Draw>
Tensor fill_with(const Shape& shape, DType dtype, Draw&& draw) {
  Tensor t(dtype, shape);
  dispatch_dtype(dtype, [&](auto zero) {
    using T = decltype(zero);
    T* p = t.data<T>();
    for (std::size_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(draw());
  });
  return t;
}
}  // namespace

Tensor uniform(const Shape& shape, double lo, double hi, Generator& gen, DType dtype) {
  if (!(lo <= hi))
    throw ValueError("uniform: expected lo <= hi, got " + std::to_string(lo) + " and " + std::to_string(hi));
  return fill_with(shape, dtype, [&] { return gen.uniform(lo, hi); });
}

Tensor normal(const Shape& shape, double mean, double stddev, Generator& gen, DType dtype) {
  if (!(stddev >= 0.0)) throw ValueError("normal: stddev must be >= 0, got " + std::to_string(stddev));
  return fill_with(shape, dtype, [&] { return mean + stddev * gen.normal(); });
}

Tensor rademacher(const Shape& shape, Generator& gen, DType dtype) {
  return fill_with(shape, dtype, [&] { return (gen.next_u64() >> 63) != 0 ? 1.0 : -1.0; });
}

}  // namespace jetgrad
