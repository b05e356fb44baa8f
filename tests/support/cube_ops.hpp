// Custom primitives for the custom-op and Taylor tests: y = x³ with the reverse rule only (the
// example of autodiff/custom.hpp), and with its Taylor rule too.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "autodiff/custom.hpp"

namespace jetgrad::test {

// y = x³, x̄ = 3 g x².
struct Cube {
  static constexpr const char* name = "cube";
  static Tensor eval(const CustomInputs<Tensor>& x) { return x[0] * x[0] * x[0]; }
  template <class X>
  static std::vector<X> vjp(const X& g, const CustomInputs<X>& x, const X&) {
    return {g * (3.0 * x[0] * x[0])};
  }
};

// The same, with y = x³ by two Cauchy products written out (x_0 broadcasts against [D] + shape).
struct CubeWithTaylor : Cube {
  static constexpr const char* name = "cube_with_taylor";
  static std::vector<Tensor> taylor(const CustomInputs<Tensor>& x,
                                    std::span<const std::vector<Tensor>* const> series, const Tensor&,
                                    int K) {
    const std::vector<Tensor>& s = *series[0];
    auto at = [&](int k) { return k == 0 ? x[0] : s[static_cast<std::size_t>(k - 1)]; };
    std::vector<Tensor> sq, out;
    auto sq_at = [&](int k) { return k == 0 ? x[0] * x[0] : sq[static_cast<std::size_t>(k - 1)]; };
    for (int k = 1; k <= K; ++k) {
      Tensor acc = at(0) * at(k);
      for (int j = 1; j <= k; ++j) acc = acc + at(j) * at(k - j);
      sq.push_back(acc);
    }
    for (int k = 1; k <= K; ++k) {
      Tensor acc = sq_at(0) * at(k);
      for (int j = 1; j <= k; ++j) acc = acc + sq_at(j) * at(k - j);
      out.push_back(acc);
    }
    return out;
  }
};

}  // namespace jetgrad::test
