// LayerNorm, BatchNorm1d, BatchNorm2d: PyTorch's numbers (tests/reference/conv_reference.hpp),
// running statistics over two training steps, eval mode, gradcheck in double, and Taylor HVPs
// equal to reverse-over-reverse.
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "autodiff/autodiff.hpp"
#include "nn/norm.hpp"
#include "support/conv_reference_support.hpp"
#include "support/gradcheck_support.hpp"
#include "support/messages.hpp"

using namespace jetgrad;
using Catch::Matchers::Contains;
using convref::expected;
using convref::make;
using gc::AllClose;

namespace {

using jetgrad::test::message_of;

// Output and the gradients of sum(out * cot) w.r.t. input, weight and bias.
struct Result {
  Tensor out, dx, dw, db;
};
Result run(nn::Module& layer, nn::Parameter& w, nn::Parameter& b, const Tensor& X) {
  Tape tape;
  Var x = tape.variable(X);
  Var y = layer(x);
  const auto g = tape.gradient(sum(y * convref::cotangent(y.shape())), {x, w.var(tape), b.var(tape)});
  return {y.value(), g[0], g[1], g[2]};
}

}  // namespace

TEST_CASE("LayerNorm: forward and gradients equal PyTorch's layer_norm", "[nn][norm]") {
  SECTION("normalized over the last two axes") {
    nn::LayerNorm ln(Shape{4, 5}, {.dtype = DType::f64});
    ln.weight()->value = make(conv_ref::layernorm_2d_w);
    ln.bias()->value = make(conv_ref::layernorm_2d_b);
    const Tensor X = make(conv_ref::layernorm_2d_x);
    const Result r = run(ln, *ln.weight(), *ln.bias(), X);
    CHECK_THAT(r.out, AllClose(expected(conv_ref::layernorm_2d_out, X.shape()), 0, convref::tol));
    CHECK_THAT(r.dx, AllClose(expected(conv_ref::layernorm_2d_dx, X.shape()), 0, convref::tol));
    CHECK_THAT(r.dw, AllClose(expected(conv_ref::layernorm_2d_dw, Shape{4, 5}), 0, convref::tol));
    CHECK_THAT(r.db, AllClose(expected(conv_ref::layernorm_2d_db, Shape{4, 5}), 0, convref::tol));
  }
  SECTION("normalized over the last axis") {
    nn::LayerNorm ln(Shape{6}, {.dtype = DType::f64});
    ln.weight()->value = make(conv_ref::layernorm_1d_w);
    ln.bias()->value = make(conv_ref::layernorm_1d_b);
    const Tensor X = make(conv_ref::layernorm_1d_x);
    const Result r = run(ln, *ln.weight(), *ln.bias(), X);
    CHECK_THAT(r.out, AllClose(expected(conv_ref::layernorm_1d_out, X.shape()), 0, convref::tol));
    CHECK_THAT(r.dx, AllClose(expected(conv_ref::layernorm_1d_dx, X.shape()), 0, convref::tol));
    CHECK_THAT(r.dw, AllClose(expected(conv_ref::layernorm_1d_dw, Shape{6}), 0, convref::tol));
    CHECK_THAT(r.db, AllClose(expected(conv_ref::layernorm_1d_db, Shape{6}), 0, convref::tol));
  }
}

#define CHECK_BATCHNORM_REFERENCE(Layer, name)                                                       \
  do {                                                                                               \
    const Tensor X1 = make(conv_ref::name##_x1), X2 = make(conv_ref::name##_x2),                     \
                 X3 = make(conv_ref::name##_x3);                                                     \
    const std::size_t C = X1.shape()[1];                                                             \
    nn::Layer bn(C, {.dtype = DType::f64});                                                          \
    bn.weight()->value = make(conv_ref::name##_w);                                                   \
    bn.bias()->value = make(conv_ref::name##_b);                                                     \
    /* step 1: batch statistics, gradients */                                                        \
    const Result r1 = run(bn, *bn.weight(), *bn.bias(), X1);                                         \
    CHECK_THAT(r1.out, AllClose(expected(conv_ref::name##_train_out, X1.shape()), 0, convref::tol)); \
    CHECK_THAT(r1.dx, AllClose(expected(conv_ref::name##_dx, X1.shape()), 0, convref::tol));         \
    CHECK_THAT(r1.dw, AllClose(expected(conv_ref::name##_dw, Shape{C}), 0, convref::tol));           \
    CHECK_THAT(r1.db, AllClose(expected(conv_ref::name##_db, Shape{C}), 0, convref::tol));           \
    /* step 2, then the running statistics */                                                        \
    {                                                                                                \
      Tape tape;                                                                                     \
      (void)bn(tape.constant(X2));                                                                   \
    }                                                                                                \
    CHECK_THAT(bn.running_mean(),                                                                    \
               AllClose(expected(conv_ref::name##_running_mean, Shape{C}), 0, convref::tol));        \
    CHECK_THAT(bn.running_var(),                                                                     \
               AllClose(expected(conv_ref::name##_running_var, Shape{C}), 0, convref::tol));         \
    /* eval mode: the running statistics normalize, and stay as they are */                          \
    const Tensor mean_before = bn.running_mean(), var_before = bn.running_var();                     \
    bn.eval();                                                                                       \
    const Result r3 = run(bn, *bn.weight(), *bn.bias(), X3);                                         \
    CHECK_THAT(r3.out, AllClose(expected(conv_ref::name##_eval_out, X3.shape()), 0, convref::tol));  \
    CHECK_THAT(r3.dx, AllClose(expected(conv_ref::name##_eval_dx, X3.shape()), 0, convref::tol));    \
    CHECK_THAT(r3.dw, AllClose(expected(conv_ref::name##_eval_dw, Shape{C}), 0, convref::tol));      \
    CHECK_THAT(r3.db, AllClose(expected(conv_ref::name##_eval_db, Shape{C}), 0, convref::tol));      \
    CHECK(max_abs_diff(bn.running_mean(), mean_before) == 0.0);                                      \
    CHECK(max_abs_diff(bn.running_var(), var_before) == 0.0);                                        \
    /* the buffers are state: saved with the parameters */                                           \
    const auto buffers = bn.named_buffers();                                                         \
    REQUIRE(buffers.size() == 2);                                                                    \
    CHECK(buffers[0].first == "running_mean");                                                       \
    CHECK(buffers[1].first == "running_var");                                                        \
  } while (false)

TEST_CASE("BatchNorm2d: training, running statistics after two steps, and eval equal PyTorch", "[nn][norm]") {
  CHECK_BATCHNORM_REFERENCE(BatchNorm2d, batchnorm2d);
}

TEST_CASE("BatchNorm1d: training, running statistics after two steps, and eval equal PyTorch", "[nn][norm]") {
  CHECK_BATCHNORM_REFERENCE(BatchNorm1d, batchnorm1d);
}

TEST_CASE("BatchNorm: the running-statistics update is not on the tape", "[nn][norm]") {
  nn::BatchNorm2d bn(2, {.dtype = DType::f64});
  const Tensor x = gc::random_tensor(Shape{3, 2, 2, 2}, -1, 1, 3);
  Tape tape;
  Var v = tape.variable(x);
  const std::size_t before = tape.size();
  Var y = bn(v);
  const std::size_t recorded = tape.size() - before;
  // Replaying the tape recomputes the output but leaves the buffers alone.
  const Tensor mean_after_forward = bn.running_mean();
  tape.replay({gc::random_tensor(Shape{3, 2, 2, 2}, -1, 1, 4), bn.weight()->value, bn.bias()->value});
  CHECK(max_abs_diff(bn.running_mean(), mean_after_forward) == 0.0);
  CHECK(recorded > 0);
  // Running mean after one step: 0.9 · 0 + 0.1 · batch mean.
  for (std::size_t c = 0; c < 2; ++c) {
    double m = 0;
    for (std::size_t n = 0; n < 3; ++n)
      for (std::size_t i = 0; i < 4; ++i) m += x.at((n * 2 + c) * 4 + i);
    CHECK(std::abs(bn.running_mean().at(c) - 0.1 * m / 12.0) < 1e-15);
  }
  (void)y;
}

TEST_CASE("LayerNorm / BatchNorm: gradcheck in double w.r.t. input and parameters", "[nn][norm][gradcheck]") {
  auto perturbed = [](const Tensor& t, std::uint64_t seed) {
    return t + gc::random_tensor(t.shape(), -0.5, 0.5, seed);
  };
  SECTION("LayerNorm over (3, 4)") {
    nn::LayerNorm ln(Shape{3, 4}, {.dtype = DType::f64});
    gc::require_gradcheck(
        [&](const std::vector<Var>& v) {
          ln.weight()->bind(v[1]);
          ln.bias()->bind(v[2]);
          return ln(v[0]);
        },
        {gc::random_tensor(Shape{2, 3, 4}, -2, 2, 1), perturbed(ln.weight()->value, 2),
         perturbed(ln.bias()->value, 3)});
  }
  SECTION("LayerNorm without affine, eps 1e-3") {
    nn::LayerNorm ln(Shape{5}, {.eps = 1e-3, .elementwise_affine = false, .dtype = DType::f64});
    CHECK(ln.parameters().empty());
    gc::require_gradcheck([&](const Var& v) { return ln(v); }, gc::random_tensor(Shape{3, 5}, -2, 2, 4));
  }
  for (bool training : {true, false}) {
    SECTION(std::string("BatchNorm2d, ") + (training ? "training" : "eval")) {
      nn::BatchNorm2d bn(3, {.dtype = DType::f64});
      bn.load_state({{"weight", bn.weight()->value},
                     {"bias", bn.bias()->value},
                     {"running_mean", gc::random_tensor(Shape{3}, -1, 1, 9)},
                     {"running_var", gc::random_tensor(Shape{3}, 0.5, 2, 10)}});
      bn.train(training);
      gc::require_gradcheck(
          [&](const std::vector<Var>& v) {
            bn.weight()->bind(v[1]);
            bn.bias()->bind(v[2]);
            return bn(v[0]);
          },
          {gc::random_tensor(Shape{2, 3, 3, 2}, -2, 2, 5), perturbed(bn.weight()->value, 6),
           perturbed(bn.bias()->value, 7)});
    }
    SECTION(std::string("BatchNorm1d, ") + (training ? "training" : "eval")) {
      nn::BatchNorm1d bn(4, {.dtype = DType::f64});
      bn.train(training);
      gc::require_gradcheck(
          [&](const std::vector<Var>& v) {
            bn.weight()->bind(v[1]);
            bn.bias()->bind(v[2]);
            return bn(v[0]);
          },
          {gc::random_tensor(Shape{5, 4}, -2, 2, 8), perturbed(bn.weight()->value, 9),
           perturbed(bn.bias()->value, 10)});
      gc::require_gradcheck([&](const Var& v) { return bn(v); },
                            gc::random_tensor(Shape{3, 4, 2}, -2, 2, 11));
    }
  }
}

TEST_CASE("LayerNorm / BatchNorm: Taylor-over-reverse HVP equals reverse-over-reverse", "[nn][norm][hvp]") {
  nn::LayerNorm ln(Shape{4}, {.dtype = DType::f64});
  nn::BatchNorm2d bn(2, {.dtype = DType::f64});
  nn::BatchNorm1d bn1(4, {.affine = false, .track_running_stats = false, .dtype = DType::f64});
  const std::vector<std::pair<std::string, UnaryFn>> fns = {
      {"LayerNorm",
       [&](const Var& x) {
         return sum(sin(ln(reshape(x, Shape{6, 4}))));
       }},
      {"BatchNorm2d",
       [&](const Var& x) {
         return sum(sin(bn(reshape(x, Shape{3, 2, 2, 2}))));
       }},
      {"BatchNorm1d without stats",
       [&](const Var& x) {
         return sum(sin(bn1(reshape(x, Shape{6, 4}))));
       }},
  };
  const Tensor x = gc::random_tensor(Shape{24}, -2, 2, 12), v = gc::random_tensor(Shape{24}, -1, 1, 13);
  for (const auto& [label, f] : fns) {
    SECTION(label) {
      const Tensor a = hvp(f, x, v, HvpMethod::taylor_over_reverse);
      const Tensor b = hvp(f, x, v, HvpMethod::reverse_over_reverse);
      CHECK_THAT(a, AllClose(b, 0, 1e-10));
      CHECK(max_abs_diff(b, Tensor::zeros(b.shape())) > 1e-3);
      const Tensor fd = gc::directional_difference([&](const Tensor& t) { return grad(f, t); }, x, v, 1e-5);
      CHECK_THAT(b, AllClose(fd, 1e-5, 1e-6));
    }
  }
}

TEST_CASE("LayerNorm / BatchNorm: shape errors name the expected and received shapes", "[nn][norm]") {
  Tape tape;
  nn::LayerNorm ln(Shape{4, 5});
  CHECK_THAT(message_of<ShapeError>([&] {
               ln(tape.constant(Tensor::zeros(Shape{2, 5, 4}, DType::f32)));
             }),
             Contains("(..., 4, 5)") && Contains("(2, 5, 4)"));
  nn::BatchNorm2d bn(3);
  CHECK_THAT(message_of<ShapeError>([&] {
               bn(tape.constant(Tensor::zeros(Shape{2, 4, 5, 5}, DType::f32)));
             }),
             Contains("BatchNorm2d(3") && Contains("(N, 3, H, W)") && Contains("(2, 4, 5, 5)"));
  nn::BatchNorm1d bn1(3);
  CHECK_THAT(message_of<ShapeError>([&] {
               bn1(tape.constant(Tensor::zeros(Shape{2, 4}, DType::f32)));
             }),
             Contains("(N, 3)") && Contains("(2, 4)"));
  CHECK_THAT(message_of<ValueError>([&] {
               bn1(tape.constant(Tensor::zeros(Shape{1, 3}, DType::f32)));
             }),
             Contains("more than one value per channel") && Contains("(1, 3)"));
  CHECK_THAT(message_of<DTypeError>([&] {
               bn1(tape.constant(Tensor::zeros(Shape{2, 3})));
             }),
             Contains("float64") && Contains("float32"));
  // In eval mode a single sample is fine (the running statistics normalize it).
  bn1.eval();
  CHECK(bn1(tape.constant(Tensor::ones(Shape{1, 3}, DType::f32))).shape() == Shape{1, 3});
}
