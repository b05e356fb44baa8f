// Uses the installed jetgrad through its installed include paths and checks a computed value.
#include <cmath>
#include <iostream>

#include <autodiff/tensor.hpp>
#include <autodiff/tensor_ops.hpp>
#include <xtensor/xarray.hpp>

int main() {
  using jetgrad::Tensor;
  xt::xarray<double> a = {{1.0, 2.0}, {3.0, 4.0}};
  Tensor t(a);
  // sum(exp(t) + 1) and t @ t: known values.
  const double s = sum(exp(t) + 1.0).item();
  const double want = std::exp(1.0) + std::exp(2.0) + std::exp(3.0) + std::exp(4.0) + 4.0;
  Tensor m = matmul(t, t);  // [[7, 10], [15, 22]]
  const bool ok = std::abs(s - want) < 1e-9 * want && m.at(0) == 7.0 && m.at(1) == 10.0 && m.at(2) == 15.0 &&
                  m.at(3) == 22.0;
  std::cout << "sum(exp(t) + 1) = " << s << " (want " << want << "), t @ t = " << m << "\n"
            << (ok ? "install_consumer: OK" : "install_consumer: WRONG VALUES") << "\n";
  return ok ? 0 : 1;
}
