// nn losses (nn/loss): gradcheck of each in double, cross_entropy against its composed definition
// -mean(log_softmax[label]), finiteness at logits of ±1e4 in float32 and float64, nll_loss and
// binary_cross_entropy_with_logits against their formulas, second derivatives across sweeps, errors.
#include <cmath>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "nn/activation.hpp"
#include "nn/loss.hpp"
#include "support/gradcheck_support.hpp"
#include "support/messages.hpp"

using namespace jetgrad;
using Catch::Contains;
using gc::AllClose;

namespace {

using jetgrad::test::message_of;

// The composed reference: -mean_n log_softmax(z)[n, t_n], picking elements one by one.
Var composed_cross_entropy(const Var& logits, const std::vector<std::size_t>& labels) {
  const Var lsm = log_softmax(logits, 1);
  std::vector<Var> picked;
  for (std::size_t n = 0; n < labels.size(); ++n) {
    const auto r = static_cast<std::ptrdiff_t>(n), c = static_cast<std::ptrdiff_t>(labels[n]);
    picked.push_back(reshape(slice(slice(lsm, 0, r, r + 1), 1, c, c + 1), Shape{1}));
  }
  return -mean(concat(picked, 0));
}

}  // namespace

TEST_CASE("cross_entropy equals -mean(log_softmax[label]) and gradchecks", "[nn][loss]") {
  const Tensor z = gc::random_tensor(Shape{5, 4}, -3.0, 3.0, 1);
  const std::vector<std::size_t> labels = {0, 3, 1, 1, 2};
  Tape tape;
  const Var zv = tape.variable(z);
  const Var fused = nn::cross_entropy(zv, labels), composed = composed_cross_entropy(zv, labels);
  CHECK(fused.shape() == Shape{});
  CHECK(fused.item() == Approx(composed.item()).epsilon(1e-14));
  const Var wrt[] = {zv};
  CHECK_THAT(tape.gradient(fused, wrt)[0], AllClose(tape.gradient(composed, wrt)[0], 1e-13, 1e-15));
  // gradient = (softmax - onehot) / N
  const Tensor expected = (softmax(z, 1) - nn::one_hot(labels, 4, DType::f64)) / 5.0;
  CHECK_THAT(tape.gradient(fused, wrt)[0], AllClose(expected, 1e-13, 1e-15));

  gc::require_gradcheck([&](const Var& v) { return nn::cross_entropy(v, labels); }, z);
  // second order: HVP by both methods equals the composed loss's
  const Tensor v = gc::random_tensor(Shape{5, 4}, -1.0, 1.0, 2);
  const UnaryFn f = [&](const Var& x) { return nn::cross_entropy(x, labels); };
  const UnaryFn g = [&](const Var& x) { return composed_cross_entropy(x, labels); };
  const Tensor h1 = hvp(f, z, v, HvpMethod::reverse_over_reverse),
               h2 = hvp(f, z, v, HvpMethod::taylor_over_reverse);
  CHECK_THAT(h1, AllClose(h2, 1e-12, 1e-14));
  CHECK_THAT(h1, AllClose(hvp(g, z, v), 1e-12, 1e-14));
}

TEST_CASE("cross_entropy stays finite for logits of ±1e4", "[nn][loss]") {
  const std::vector<std::size_t> labels = {0, 1, 2};
  for (DType dt : {DType::f32, DType::f64}) {
    const Tensor z = Tensor::from({3, 3}, {1e4, -1e4, 0.0, 1e4, -1e4, 1e4, -1e4, -1e4, -1e4}, dt);
    Tape tape;
    const Var zv = tape.variable(z);
    const Var loss = nn::cross_entropy(zv, labels);
    INFO(dtype_name(dt));
    REQUIRE(std::isfinite(loss.item()));
    // rows: picks the max (loss 0); picks -1e4 against two +1e4 (2e4 + log 2); uniform (log 3)
    CHECK(loss.item() == Approx((0.0 + 2e4 + std::log(2.0) + std::log(3.0)) / 3.0).epsilon(1e-6));
    const Var wrt[] = {zv};
    const Tensor g = tape.gradient(loss, wrt)[0];
    for (std::size_t i = 0; i < g.numel(); ++i) CHECK(std::isfinite(g.at(i)));
    CHECK(g.at(0) == Approx(0.0).margin(1e-7));
    // float32 has a spacing of ~1e-3 at 1e4, so log_softmax (and the gradient) is good to ~1e-3 there
    CHECK(g.at(3) == Approx(0.5 / 3.0).epsilon(dt == DType::f32 ? 2e-3 : 1e-12));
  }
}

TEST_CASE("nll_loss: log-probabilities picked by label; with log_softmax it is cross_entropy", "[nn][loss]") {
  const Tensor z = gc::random_tensor(Shape{4, 3}, -2.0, 2.0, 3);
  const std::vector<std::size_t> labels = {2, 0, 0, 1};
  Tape tape;
  const Var zv = tape.variable(z);
  const Var nll = nn::nll_loss(log_softmax(zv, 1), labels);
  CHECK(nll.item() == Approx(nn::cross_entropy(zv, labels).item()).epsilon(1e-14));
  const Tensor lp = log_softmax(z, 1);
  double e = 0.0;
  for (std::size_t n = 0; n < 4; ++n) e -= lp.at(n * 3 + labels[n]);
  CHECK(nn::nll_loss(tape.constant(lp), labels).item() == Approx(e / 4.0).epsilon(1e-14));
  gc::require_gradcheck([&](const Var& v) { return nn::nll_loss(v, labels); }, z);
  gc::require_gradcheck([&](const Var& v) { return nn::nll_loss(nn::log_stablemax(v, 1), labels); }, z);
}

TEST_CASE("mse_loss: value and gradcheck in both arguments", "[nn][loss]") {
  const Tensor a = gc::random_tensor(Shape{3, 4}, -1.0, 1.0, 4),
               b = gc::random_tensor(Shape{3, 4}, -1.0, 1.0, 5);
  Tape tape;
  double e = 0.0;
  for (std::size_t i = 0; i < 12; ++i) e += (a.at(i) - b.at(i)) * (a.at(i) - b.at(i));
  CHECK(nn::mse_loss(tape.constant(a), b).item() == Approx(e / 12.0).epsilon(1e-14));
  gc::require_gradcheck([&](const std::vector<Var>& xs) { return nn::mse_loss(xs[0], xs[1]); }, {a, b});
  gc::require_gradcheck([&](const Var& v) { return nn::mse_loss(v, b); }, a);
}

TEST_CASE("binary_cross_entropy_with_logits: the log-sigmoid formula, stable, gradcheck", "[nn][loss]") {
  const Tensor x = gc::random_tensor(Shape{6}, -4.0, 4.0, 6);
  const Tensor y = Tensor::from({6}, {0.0, 1.0, 1.0, 0.0, 0.3, 0.9});
  Tape tape;
  double e = 0.0;
  for (std::size_t i = 0; i < 6; ++i) {
    const double s = 1.0 / (1.0 + std::exp(-x.at(i)));
    e += -(y.at(i) * std::log(s) + (1.0 - y.at(i)) * std::log(1.0 - s));
  }
  CHECK(nn::binary_cross_entropy_with_logits(tape.constant(x), y).item() == Approx(e / 6.0).epsilon(1e-13));
  gc::require_gradcheck(
      [&](const std::vector<Var>& xs) { return nn::binary_cross_entropy_with_logits(xs[0], xs[1]); }, {x, y});
  // gradient (σ(x) - y) / N
  const Tensor g = grad([&](const Var& v) { return nn::binary_cross_entropy_with_logits(v, y); }, x);
  CHECK_THAT(g, AllClose((sigmoid(x) - y) / 6.0, 1e-13, 1e-15));
  // huge logits in float32: finite
  Tape t32;
  const Tensor big = Tensor::from({2}, {1e4, -1e4}, DType::f32);
  const Var l =
      nn::binary_cross_entropy_with_logits(t32.variable(big), Tensor::from({2}, {0.0, 1.0}, DType::f32));
  CHECK(l.item() == Approx(1e4).epsilon(1e-6));
}

TEST_CASE("losses: errors name the problem", "[nn][loss]") {
  Tape tape;
  const Var z = tape.constant(Tensor::zeros(Shape{2, 3}));
  CHECK_THAT(message_of<ValueError>([&] {
               nn::cross_entropy(z, std::vector<std::size_t>{0, 3});
             }),
             Contains("label 3") && Contains("row 1") && Contains("3 classes"));
  CHECK_THAT(message_of<ShapeError>([&] { nn::cross_entropy(z, std::vector<std::size_t>{0}); }),
             Contains("2 rows") && Contains("1 labels"));
  CHECK_THAT(message_of<ShapeError>([&] { nn::nll_loss(reshape(z, Shape{6}), std::vector<std::size_t>{0}); }),
             Contains("(N, C)"));
  CHECK_THAT(message_of<ShapeError>([&] {
               nn::mse_loss(z, Tensor::zeros(Shape{3, 2}));
             }),
             Contains("(2, 3)") && Contains("(3, 2)"));
}
