// nn layers and activations (nn/linear, nn/activation, nn/dropout, nn/embedding, nn/gradcheck):
// gradcheck of each in double, reverse-over-reverse = Taylor-over-reverse HVPs through an MLP with
// every activation, Taylor degree 2 against reverse-over-reverse, StableMax against its closed
// form, Dropout train vs eval, and the errors.
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "nn/activation.hpp"
#include "nn/dropout.hpp"
#include "nn/embedding.hpp"
#include "nn/gradcheck.hpp"
#include "nn/linear.hpp"
#include "nn/loss.hpp"
#include "support/gradcheck_support.hpp"
#include "support/messages.hpp"

using namespace jetgrad;
using Catch::Contains;
using gc::AllClose;

namespace {

using jetgrad::test::message_of;

struct Activation {
  std::string name;
  std::function<Var(const Var&)> fn;
  std::function<std::shared_ptr<nn::Module>()> make;
};

std::vector<Activation> activations() {
  return {
      {"relu", [](const Var& x) { return nn::relu(x); }, [] { return std::make_shared<nn::ReLU>(); }},
      {"leaky_relu", [](const Var& x) { return nn::leaky_relu(x, 0.1); },
       [] { return std::make_shared<nn::LeakyReLU>(0.1); }},
      {"tanh", [](const Var& x) { return nn::tanh(x); }, [] { return std::make_shared<nn::Tanh>(); }},
      {"sigmoid", [](const Var& x) { return nn::sigmoid(x); },
       [] { return std::make_shared<nn::Sigmoid>(); }},
      {"gelu", [](const Var& x) { return nn::gelu(x); }, [] { return std::make_shared<nn::GELU>(); }},
      {"silu", [](const Var& x) { return nn::silu(x); }, [] { return std::make_shared<nn::SiLU>(); }},
      {"softmax", [](const Var& x) { return nn::softmax(x, -1); },
       [] { return std::make_shared<nn::Softmax>(-1); }},
      {"stablemax", [](const Var& x) { return nn::stablemax(x, -1); },
       [] { return std::make_shared<nn::StableMax>(-1); }},
  };
}

// Inputs away from the kinks of relu / leaky_relu / stablemax's s''.
Tensor away_from_zero(const Shape& s, std::uint64_t seed) {
  Tensor t = gc::random_tensor(s, 0.1, 2.0, seed);
  Tensor sign = gc::random_tensor(s, -1.0, 1.0, seed + 1);
  for (std::size_t i = 0; i < t.numel(); ++i) t.set(i, sign.at(i) < 0 ? -t.at(i) : t.at(i));
  return t;
}

double max_abs(const Tensor& t) {
  double m = 0.0;
  for (std::size_t i = 0; i < t.numel(); ++i) m = std::max(m, std::abs(t.at(i)));
  return m;
}

}  // namespace

TEST_CASE("activations: gradcheck of each free function and module in double", "[nn][activation]") {
  const Tensor x = away_from_zero(Shape{3, 5}, 11);
  for (const Activation& a : activations()) {
    SECTION(a.name) {
      gc::require_gradcheck(a.fn, x);
      auto m = a.make();
      gc::require_gradcheck([&](const Var& v) { return (*m)(v); }, x);
      // the module and the function compute the same thing
      Tape tape;
      const Var v = tape.constant(x);
      CHECK(max_abs_diff((*m)(v).value(), a.fn(v).value()) == 0.0);
    }
  }
}

TEST_CASE("activations: values against their definitions", "[nn][activation]") {
  Tape tape;
  const Tensor xt = Tensor::from({6}, {-3.0, -1.0, -0.25, 0.0, 0.5, 2.0});
  const Var x = tape.constant(xt);
  const Tensor gelu = nn::gelu(x).value(), silu = nn::silu(x).value(), leaky = nn::leaky_relu(x, 0.2).value();
  for (std::size_t i = 0; i < xt.numel(); ++i) {
    const double v = xt.at(i);
    CHECK(gelu.at(i) == Approx(0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)))).margin(1e-15));
    CHECK(silu.at(i) == Approx(v / (1.0 + std::exp(-v))).margin(1e-15));
    CHECK(leaky.at(i) == Approx(v > 0 ? v : 0.2 * v).margin(1e-15));
  }
  // leaky_relu's derivative at 0 is the slope (PyTorch's convention)
  CHECK(grad([](const Var& v) { return sum(nn::leaky_relu(v, 0.2)); }, Tensor::from({1}, {0.0})).at(0) ==
        0.2);
}

TEST_CASE("stablemax: closed form, normalization, stability and the derivative at 0", "[nn][activation]") {
  const Tensor xt = Tensor::from({2, 4}, {-3.0, -0.5, 0.0, 2.0, 1e4, -1e4, 0.25, -2.0});
  Tape tape;
  const Tensor y = nn::stablemax(tape.constant(xt), 1).value();
  for (std::size_t r = 0; r < 2; ++r) {
    double s[4], total = 0.0;
    for (std::size_t j = 0; j < 4; ++j) {
      const double v = xt.at(r * 4 + j);
      s[j] = v >= 0 ? v + 1.0 : 1.0 / (1.0 - v);
      total += s[j];
    }
    double row_sum = 0.0;
    for (std::size_t j = 0; j < 4; ++j) {
      CHECK(y.at(r * 4 + j) == Approx(s[j] / total).epsilon(1e-14));
      row_sum += y.at(r * 4 + j);
    }
    CHECK(row_sum == Approx(1.0).epsilon(1e-14));
  }
  // log_stablemax is the log of it
  const Tensor ly = nn::log_stablemax(tape.constant(xt), 1).value();
  for (std::size_t i = 0; i < 8; ++i)
    CHECK(ly.at(i) == Approx(std::log(y.at(i))).epsilon(1e-12).margin(1e-15));
  // s is C¹: s'(0) = 1 from both sides; and no NaN anywhere, also at x = 1 (the reciprocal's pole)
  const Tensor g =
      grad([](const Var& v) { return sum(nn::stablemax_s(v)); }, Tensor::from({3}, {0.0, 1.0, -1.0}));
  CHECK(g.at(0) == 1.0);
  CHECK(g.at(1) == 1.0);
  CHECK(g.at(2) == Approx(0.25));
  // float32 with huge logits stays finite (softmax would too; stablemax has no exp at all)
  Tape t32;
  const Tensor big = nn::stablemax(t32.constant(xt.to(DType::f32)), 1).value();
  for (std::size_t i = 0; i < big.numel(); ++i) CHECK(std::isfinite(big.at(i)));
}

TEST_CASE("activations: Taylor degree 2 equals reverse over reverse (vᵀHv)", "[nn][activation]") {
  const Tensor x = away_from_zero(Shape{2, 4}, 21);
  const Tensor v = gc::random_tensor(Shape{2, 4}, -1.0, 1.0, 22);
  for (const Activation& a : activations()) {
    SECTION(a.name) {
      const UnaryFn f = [&](const Var& z) { return sum(a.fn(z) * a.fn(z)); };
      const std::vector<Tensor> c = taylor(f, x, v, 2);
      const Tensor hv = hvp(f, x, v, HvpMethod::reverse_over_reverse);
      const double vhv = sum(hv * v).item();
      CHECK(2.0 * c[2].item() == Approx(vhv).epsilon(1e-10).margin(1e-12));
      CHECK(c[1].item() == Approx(sum(grad(f, x) * v).item()).epsilon(1e-12).margin(1e-14));
    }
  }
}

TEST_CASE("MLP HVP: reverse over reverse equals Taylor over reverse for every activation",
          "[nn][activation][hvp]") {
  Generator gen(5);
  const Tensor X = normal(Shape{6, 3}, 0.0, 1.0, gen);
  const std::vector<std::size_t> labels = {0, 1, 2, 1, 0, 2};
  for (const Activation& a : activations()) {
    SECTION(a.name) {
      nn::Linear l1(3, 5, gen, true, DType::f64), l2(5, 3, gen, true, DType::f64);
      auto act = a.make();
      // f(W1): the loss as a function of the first layer's weight, bound to hvp's variable.
      const UnaryFn f = [&](const Var& w) {
        l1.weight().bind(w);
        const Var h = (*act)(l1(w.tape()->constant(X)));
        return nn::cross_entropy(l2(h), labels);
      };
      const Tensor w = l1.weight().value;
      const Tensor v = normal(w.shape(), 0.0, 1.0, gen);
      const Tensor rr = hvp(f, w, v, HvpMethod::reverse_over_reverse);
      const Tensor tr = hvp(f, w, v, HvpMethod::taylor_over_reverse);
      INFO("max |Hv| = " << max_abs(rr));
      CHECK(max_abs_diff(rr, tr) <= 1e-10 * (1.0 + max_abs(rr)));
      // and the HVP is the directional derivative of the gradient (central differences)
      const Tensor fd = gc::directional_difference([&](const Tensor& at) { return grad(f, at); }, w, v, 1e-5);
      CHECK_THAT(rr, AllClose(fd, 1e-5, 1e-7));
    }
  }
}

TEST_CASE("Linear: shapes, the PyTorch layout, gradcheck of parameters and input", "[nn][linear]") {
  Generator gen(1);
  nn::Linear fc(4, 3, gen, true, DType::f64);
  CHECK(fc.weight().value.shape() == Shape{3, 4});
  REQUIRE(fc.bias() != nullptr);
  CHECK(fc.bias()->value.shape() == Shape{3});
  CHECK(fc.describe() == "Linear(4, 3)");
  const auto named = fc.named_parameters();
  REQUIRE(named.size() == 2);
  CHECK(named[0].first == "weight");
  CHECK(named[1].first == "bias");

  const Tensor x = normal(Shape{5, 4}, 0.0, 1.0, gen);
  {  // y = x Wᵀ + b, elementwise
    Tape tape;
    const Tensor y = fc(tape.constant(x)).value();
    REQUIRE(y.shape() == Shape{5, 3});
    for (std::size_t n = 0; n < 5; ++n)
      for (std::size_t o = 0; o < 3; ++o) {
        double e = fc.bias()->value.at(o);
        for (std::size_t i = 0; i < 4; ++i) e += x.at(n * 4 + i) * fc.weight().value.at(o * 4 + i);
        CHECK(y.at(n * 3 + o) == Approx(e).epsilon(1e-14));
      }
  }
  // every parameter element against central differences
  const auto report = nn::gradcheck(
      fc, [&](nn::Module& m, Tape& tape) { return sum(nn::tanh(m(tape.constant(x)))); }, gc::tight_options());
  INFO(report.str());
  CHECK(report.passed);
  CHECK(report.checked == 15);
  // and the input
  gc::require_gradcheck([&](const Var& v) { return fc(v); }, x);
  // leading batch axes and 1-D inputs
  Tape tape;
  CHECK(fc(tape.constant(normal(Shape{2, 5, 4}, 0.0, 1.0, gen))).shape() == Shape{2, 5, 3});
  CHECK(fc(tape.constant(normal(Shape{4}, 0.0, 1.0, gen))).shape() == Shape{3});
}

TEST_CASE("Linear: defaults, no bias, and the errors", "[nn][linear]") {
  Generator gen(2);
  nn::Linear fc(100, 10, gen);
  CHECK(fc.weight().value.dtype() == DType::f32);
  const double bound = 1.0 / std::sqrt(100.0);
  for (std::size_t i = 0; i < fc.weight().value.numel(); ++i)
    CHECK(std::abs(fc.weight().value.at(i)) <= bound);
  for (std::size_t i = 0; i < 10; ++i) CHECK(std::abs(fc.bias()->value.at(i)) <= bound);

  nn::Linear nob(3, 2, gen, false, DType::f64);
  CHECK(nob.bias() == nullptr);
  CHECK(nob.named_parameters().size() == 1);
  CHECK(nob.describe() == "Linear(3, 2, bias=false)");

  Tape tape;
  CHECK_THAT(message_of<DTypeError>([&] {
               fc(tape.constant(Tensor::zeros(Shape{2, 100})));
             }),
             Contains("Linear(100, 10)") && Contains("float64") && Contains("float32"));
  CHECK_THAT(message_of<ShapeError>([&] {
               nob(tape.constant(Tensor::zeros(Shape{2, 4})));
             }),
             Contains("(..., 3)") && Contains("(2, 4)"));
  CHECK_THAT(message_of<TapeError>([&] { nob(Var{}); }), Contains("not attached"));
  CHECK_THROWS_AS(nn::Linear(0, 3, gen), ValueError);
}

TEST_CASE("Sequential MLP: whole-module gradcheck with every activation", "[nn][linear][activation]") {
  Generator gen(3);
  const Tensor X = away_from_zero(Shape{4, 3}, 31);
  const std::vector<std::size_t> labels = {1, 0, 1, 1};
  for (const Activation& a : activations()) {
    SECTION(a.name) {
      nn::Sequential mlp;
      mlp.push_back(std::make_shared<nn::Linear>(3, 4, gen, true, DType::f64));
      mlp.push_back(a.make());
      mlp.push_back(std::make_shared<nn::Linear>(4, 2, gen, true, DType::f64));
      const Tensor before = mlp.named_parameters()[0].second->value;
      const auto report = nn::gradcheck(
          mlp, [&](nn::Module& m, Tape& tape) { return nn::cross_entropy(m(tape.constant(X)), labels); },
          gc::tight_options());
      INFO(report.str());
      CHECK(report.passed);
      CHECK(report.checked == 3 * 4 + 4 + 4 * 2 + 2);
      CHECK(max_abs_diff(before, mlp.named_parameters()[0].second->value) == 0.0);  // restored
    }
  }
}

TEST_CASE("nn::gradcheck: reports a wrong gradient by parameter name; refuses float32", "[nn][gradcheck]") {
  Generator gen(4);
  nn::Linear fc(2, 2, gen, true, DType::f64);
  const Tensor x = normal(Shape{3, 2}, 0.0, 1.0, gen);
  // stop_gradient hides the weight from reverse mode, not from finite differences
  const auto report = nn::gradcheck(fc, [&](nn::Module&, Tape& tape) {
    const Var w = fc.weight().var(tape);
    return sum(matmul(tape.constant(x), transpose(stop_gradient(w)))) + sum(fc.bias()->var(tape));
  });
  CHECK_FALSE(report.passed);
  CHECK_THAT(report.str(), Contains("FAILED") && Contains("weight"));

  nn::Linear f32(2, 2, gen);
  CHECK_THAT(message_of<DTypeError>([&] {
               nn::gradcheck(
                   f32, [&](nn::Module& m, Tape& tape) { return sum(m(tape.constant(x.to(DType::f32)))); });
             }),
             Contains("'weight'") && Contains("float32"));
}

TEST_CASE("Dropout: train vs eval, inverted scaling, reproducible masks, gradcheck", "[nn][dropout]") {
  Generator gen(6);
  nn::Dropout drop(0.25, gen);
  const Tensor x = Tensor::ones(Shape{200, 100});
  Tape tape;
  const Var xv = tape.constant(x);
  CHECK(drop.training());
  const Tensor y = drop(xv).value();
  std::size_t zeros = 0;
  for (std::size_t i = 0; i < y.numel(); ++i) {
    if (y.at(i) == 0.0)
      ++zeros;
    else
      CHECK(y.at(i) == Approx(1.0 / 0.75).epsilon(1e-15));
  }
  const double frac = static_cast<double>(zeros) / static_cast<double>(y.numel());
  CHECK(frac == Approx(0.25).margin(0.01));           // 20000 draws: σ ≈ 0.003
  CHECK(mean(y).item() == Approx(1.0).margin(0.02));  // expectation kept
  CHECK(max_abs_diff(drop(xv).value(), y) > 0.0);     // a fresh mask per call

  drop.eval();
  CHECK(max_abs_diff(drop(xv).value(), x) == 0.0);  // identity
  drop.train();

  // same seed, same masks, bit for bit
  nn::Dropout a(0.5, 99), b(0.5, 99);
  CHECK(max_abs_diff(a(xv).value(), b(xv).value()) == 0.0);
  // p = 0 and p = 1
  CHECK(max_abs_diff(nn::Dropout(0.0, 1)(xv).value(), x) == 0.0);
  CHECK(max_abs(nn::Dropout(1.0, 1)(xv).value()) == 0.0);
  CHECK_THROWS_AS(nn::Dropout(1.5, 1), ValueError);

  // gradcheck in training mode: the same mask on every evaluation (reseeded)
  const Tensor small = gc::random_tensor(Shape{3, 4}, -1.0, 1.0, 61);
  gc::require_gradcheck(
      [&](const Var& v) {
        drop.reseed(123);
        return drop(v) * v;
      },
      small);
}

TEST_CASE("Embedding: lookup, gradient accumulation, gradcheck, errors", "[nn][embedding]") {
  Generator gen(7);
  nn::Embedding emb(5, 3, gen, DType::f64);
  CHECK(emb.weight().value.shape() == Shape{5, 3});
  Tape tape;
  const std::vector<std::size_t> idx = {4, 1, 4};
  const Tensor rows = emb.lookup(idx, tape).value();
  REQUIRE(rows.shape() == Shape{3, 3});
  for (std::size_t r = 0; r < 3; ++r)
    for (std::size_t d = 0; d < 3; ++d) CHECK(rows.at(r * 3 + d) == emb.weight().value.at(idx[r] * 3 + d));

  // float indices of any shape -> shape + (dim)
  const Var e = emb(tape.constant(Tensor::from({2, 2}, {0, 1, 4, 4})));
  CHECK(e.shape() == Shape{2, 2, 3});

  // a row used twice gets twice the gradient
  emb.zero_grad();
  nn::backward(sum(emb.lookup(idx, tape)), emb);
  CHECK(emb.weight().grad.at(4 * 3) == 2.0);
  CHECK(emb.weight().grad.at(1 * 3) == 1.0);
  CHECK(emb.weight().grad.at(0) == 0.0);

  const Tensor target = normal(Shape{2, 2, 3}, 0.0, 1.0, gen);
  const auto report = nn::gradcheck(
      emb,
      [&](nn::Module& m, Tape& t) {
        return nn::mse_loss(nn::tanh(m(t.constant(Tensor::from({2, 2}, {0, 3, 3, 2})))), target);
      },
      gc::tight_options());
  INFO(report.str());
  CHECK(report.passed);

  CHECK_THAT(message_of<ValueError>([&] { emb.lookup(std::vector<std::size_t>{7}, tape); }),
             Contains("index 7") && Contains("[0, 5)"));
  CHECK_THAT(message_of<ValueError>([&] { emb(tape.constant(Tensor::from({1}, {1.5}))); }),
             Contains("non-negative integers"));
}

TEST_CASE("Linear, Embedding, Dropout: reverse over reverse = Taylor over reverse = differences",
          "[nn][hvp]") {
  Generator gen(8);
  nn::Linear fc(3, 4, gen, true, DType::f64);
  nn::Embedding emb(6, 3, gen, DType::f64);
  nn::Dropout drop(0.3, gen);
  const std::vector<std::size_t> idx = {5, 0, 5, 2};
  struct Case {
    const char* name;
    nn::Parameter* param;
  };
  for (const Case& c : {Case{"linear weight", &fc.weight()}, Case{"embedding weight", &emb.weight()}}) {
    INFO(c.name);
    // Embedding rows -> Dropout (fixed mask) -> Linear -> sin: one scalar of either weight
    const UnaryFn f = [&](const Var& w) {
      c.param->bind(w);
      drop.reseed(3);
      return sum(sin(fc(drop(emb.lookup(idx, *w.tape())))));
    };
    const Tensor w = c.param->value;
    const Tensor v = normal(w.shape(), 0.0, 1.0, gen);
    const Tensor rr = hvp(f, w, v, HvpMethod::reverse_over_reverse);
    const Tensor tr = hvp(f, w, v, HvpMethod::taylor_over_reverse);
    CHECK(max_abs_diff(rr, tr) <= 1e-10 * (1.0 + max_abs(rr)));
    const Tensor fd = gc::directional_difference([&](const Tensor& at) { return grad(f, at); }, w, v, 1e-5);
    CHECK_THAT(rr, AllClose(fd, 1e-5, 1e-7));
    // Taylor mode of degree 3 along v: 6 c3 = the third directional derivative (differences of vᵀHv)
    const std::vector<Tensor> coeff = taylor(f, w, v, 3);
    auto vhv = [&](const Tensor& at) { return sum(hvp(f, at, v) * v).item(); };
    const double h = 1e-4;
    const double third = (vhv(w + h * v) - vhv(w - h * v)) / (2 * h);
    CHECK(6.0 * coeff[3].item() == Approx(third).epsilon(1e-5).margin(1e-7));
  }
}
