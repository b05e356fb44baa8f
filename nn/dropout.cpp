#include "nn/dropout.hpp"

#include <sstream>

namespace jetgrad::nn {

namespace {
double checked_p(double p) {
  if (!(p >= 0.0 && p <= 1.0)) throw ValueError("Dropout: p must be in [0, 1], got " + std::to_string(p));
  return p;
}
}  // namespace

Dropout::Dropout(double p, Generator& gen) : p_(checked_p(p)), gen_(gen.split()) {}
Dropout::Dropout(double p, std::uint64_t seed) : p_(checked_p(p)), gen_(seed) {}

Tensor Dropout::draw_mask(const Shape& shape, DType dtype) {
  Tensor mask(dtype, shape);  // zeros
  if (p_ >= 1.0) return mask;
  const double keep = 1.0 / (1.0 - p_);
  for (std::size_t i = 0; i < mask.numel(); ++i)
    if (gen_.uniform() >= p_) mask.set(i, keep);
  return mask;
}

Var Dropout::forward(const Var& x) {
  if (!training() || p_ == 0.0) return x;
  return x * draw_mask(x.shape(), x.dtype());
}

std::string Dropout::describe() const {
  std::ostringstream os;
  os << "Dropout(p=" << p_ << ")";
  return os.str();
}

}  // namespace jetgrad::nn
