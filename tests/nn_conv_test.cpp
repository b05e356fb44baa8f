// Conv2d, MaxPool2d, AvgPool2d, Flatten: PyTorch's numbers (tests/reference/conv_reference.hpp),
// gradcheck in double with stride/padding/dilation variants, and Taylor-over-reverse HVPs through
// a small CNN equal to reverse-over-reverse.
#include <chrono>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "autodiff/autodiff.hpp"
#include "nn/conv.hpp"
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

struct ConvRef {
  const conv_ref::Pattern &x, &w, &b;
  nn::Conv2dOptions options;
  const double *out, *dx, *dw, *db;
  std::size_t out_n, dx_n, dw_n, db_n;
};

Tensor from_ptr(const double* p, std::size_t n, const Shape& s) {
  REQUIRE(s.numel() == n);
  Tensor t(DType::f64, s);
  for (std::size_t i = 0; i < n; ++i) t.set(i, p[i]);
  return t;
}

#define CONV_REF(name, opts)                                                                            \
  ConvRef {                                                                                             \
    conv_ref::name##_x, conv_ref::name##_w, conv_ref::name##_b, opts, conv_ref::name##_out,             \
        conv_ref::name##_dx, conv_ref::name##_dw, conv_ref::name##_db, std::size(conv_ref::name##_out), \
        std::size(conv_ref::name##_dx), std::size(conv_ref::name##_dw), std::size(conv_ref::name##_db)  \
  }

nn::Conv2dOptions f64(const nn::Conv2dOptions& options) {
  nn::Conv2dOptions o = options;
  o.dtype = DType::f64;
  return o;
}

}  // namespace

TEST_CASE("Conv2d: forward and gradients equal PyTorch's conv2d", "[nn][conv]") {
  const std::vector<std::pair<std::string, ConvRef>> cases = {
      {"plain", CONV_REF(conv_plain, f64({}))},
      {"stride 2x1, padding 1x2", CONV_REF(conv_strided, f64({.stride = {2, 1}, .padding = {1, 2}}))},
      {"stride 1x2, padding 2x1, dilation 2",
       CONV_REF(conv_dilated, f64({.stride = {1, 2}, .padding = {2, 1}, .dilation = 2}))},
  };
  for (const auto& [label, c] : cases) {
    SECTION(label) {
      const Tensor X = make(c.x), W = make(c.w), B = make(c.b);
      Generator gen(0);
      nn::Conv2d conv(W.shape()[1], W.shape()[0], nn::Size2(W.shape()[2], W.shape()[3]), gen, c.options);
      conv.weight().value = W;
      conv.bias()->value = B;
      Tape tape;
      Var x = tape.variable(X);
      Var y = conv(x);
      const Tensor ref_out = from_ptr(c.out, c.out_n, y.shape());
      CHECK_THAT(y.value(), AllClose(ref_out, 0, convref::tol));
      Var loss = sum(y * convref::cotangent(y.shape()));
      const auto g = tape.gradient(loss, {x, conv.weight().var(tape), conv.bias()->var(tape)});
      CHECK_THAT(g[0], AllClose(from_ptr(c.dx, c.dx_n, X.shape()), 0, convref::tol));
      CHECK_THAT(g[1], AllClose(from_ptr(c.dw, c.dw_n, W.shape()), 0, convref::tol));
      CHECK_THAT(g[2], AllClose(from_ptr(c.db, c.db_n, B.shape()), 0, convref::tol));
    }
  }
}

TEST_CASE("MaxPool2d / AvgPool2d: forward and gradients equal PyTorch's", "[nn][conv]") {
  struct PoolRef {
    std::string label;
    std::function<std::shared_ptr<nn::Module>()> make_layer;
    const conv_ref::Pattern& x;
    const double *out, *dx;
    std::size_t out_n, dx_n;
  };
#define POOL_REF(name, label, ...)                                                      \
  PoolRef {                                                                             \
    label, [] { return std::shared_ptr<nn::Module>(__VA_ARGS__); }, conv_ref::name##_x, \
        conv_ref::name##_out, conv_ref::name##_dx, std::size(conv_ref::name##_out),     \
        std::size(conv_ref::name##_dx)                                                  \
  }
  const std::vector<PoolRef> cases = {
      POOL_REF(maxpool_k2, "max 2x2", new nn::MaxPool2d(2)),
      POOL_REF(maxpool_k3s2p1, "max 3x3 stride 2 padding 1",
               new nn::MaxPool2d(3, {.stride = 2, .padding = 1})),
      POOL_REF(maxpool_rect, "max 2x3 stride 1x2 padding 1",
               new nn::MaxPool2d({2, 3}, {.stride = {1, 2}, .padding = 1})),
      POOL_REF(avgpool_k2, "avg 2x2", new nn::AvgPool2d(2)),
      POOL_REF(avgpool_k3s2p1, "avg 3x3 stride 2 padding 1",
               new nn::AvgPool2d(3, {.stride = 2, .padding = 1})),
      POOL_REF(avgpool_k3s2p1_nopad, "avg 3x3 stride 2 padding 1, count_include_pad false",
               new nn::AvgPool2d(3, {.stride = 2, .padding = 1, .count_include_pad = false})),
  };
#undef POOL_REF
  for (const PoolRef& c : cases) {
    SECTION(c.label) {
      auto layer = c.make_layer();
      const Tensor X = make(c.x);
      Tape tape;
      Var x = tape.variable(X);
      Var y = (*layer)(x);
      CHECK_THAT(y.value(), AllClose(from_ptr(c.out, c.out_n, y.shape()), 0, convref::tol));
      const auto g = tape.gradient(sum(y * convref::cotangent(y.shape())), {x});
      CHECK_THAT(g[0], AllClose(from_ptr(c.dx, c.dx_n, X.shape()), 0, convref::tol));
    }
  }
}

TEST_CASE("Conv2d: gradcheck in double w.r.t. input, weight and bias", "[nn][conv][gradcheck]") {
  struct Variant {
    std::string label;
    std::size_t in, out;
    nn::Size2 kernel;
    nn::Conv2dOptions options;
    Shape x;
  };
  const std::vector<Variant> variants = {
      {"3x3", 2, 3, 3, f64({}), Shape{2, 2, 5, 5}},
      {"3x3 stride 2 padding 1", 2, 3, 3, f64({.stride = 2, .padding = 1}), Shape{2, 2, 6, 5}},
      {"2x3 stride 1x2 padding 2x1",
       3,
       2,
       {2, 3},
       f64({.stride = {1, 2}, .padding = {2, 1}}),
       Shape{1, 3, 4, 6}},
      {"3x3 dilation 2 padding 2", 2, 2, 3, f64({.padding = 2, .dilation = 2}), Shape{2, 2, 5, 4}},
      {"1x1 no bias", 3, 4, 1, f64({.bias = false}), Shape{2, 3, 3, 3}},
  };
  for (const Variant& v : variants) {
    SECTION(v.label) {
      Generator gen(3);
      nn::Conv2d conv(v.in, v.out, v.kernel, gen, v.options);
      std::vector<Tensor> inputs = {gc::random_tensor(v.x, -1, 1, 11), conv.weight().value};
      if (conv.bias() != nullptr) inputs.push_back(conv.bias()->value);
      gc::require_gradcheck(
          [&](const std::vector<Var>& xs) {
            conv.weight().bind(xs[1]);
            if (conv.bias() != nullptr) conv.bias()->bind(xs[2]);
            return conv(xs[0]);
          },
          inputs);
    }
  }
}

TEST_CASE("MaxPool2d / AvgPool2d / Flatten: gradcheck in double", "[nn][conv][gradcheck]") {
  // Distinct values, so no finite-difference step crosses a tie of the max.
  const Tensor x = gc::distinct_tensor(Shape{2, 2, 7, 6}, -2, 2, 5);
  SECTION("max 2x2") {
    nn::MaxPool2d p(2);
    gc::require_gradcheck([&](const Var& v) { return p(v); }, x);
  }
  SECTION("max 3x3 stride 2 padding 1") {
    nn::MaxPool2d p(3, {.stride = 2, .padding = 1});
    gc::require_gradcheck([&](const Var& v) { return p(v); }, x);
  }
  SECTION("max 3x2 stride 1 (overlapping)") {
    nn::MaxPool2d p({3, 2}, {.stride = 1});
    gc::require_gradcheck([&](const Var& v) { return p(v); }, x);
  }
  SECTION("avg 2x2") {
    nn::AvgPool2d p(2);
    gc::require_gradcheck([&](const Var& v) { return p(v); }, x);
  }
  SECTION("avg 3x3 stride 2 padding 1, both divisors") {
    nn::AvgPool2d p(3, {.stride = 2, .padding = 1});
    gc::require_gradcheck([&](const Var& v) { return p(v); }, x);
    nn::AvgPool2d q(3, {.stride = 2, .padding = 1, .count_include_pad = false});
    gc::require_gradcheck([&](const Var& v) { return q(v); }, x);
  }
  SECTION("flatten") {
    nn::Flatten f;
    Tape tape;
    CHECK(f(tape.constant(x)).shape() == Shape{2, 84});
    CHECK(nn::Flatten(1, 2)(tape.constant(x)).shape() == Shape{2, 14, 6});
    CHECK(nn::Flatten(0, -1)(tape.constant(x)).shape() == Shape{168});
    gc::require_gradcheck([&](const Var& v) { return sin(f(v)); }, x);
  }
}

TEST_CASE("MaxPool2d: tied elements of a window share the gradient", "[nn][conv]") {
  nn::MaxPool2d p(2);
  const Tensor x = Tensor::from(Shape{1, 1, 2, 2}, {1.0, 3.0, 3.0, 2.0});
  Tape tape;
  Var v = tape.variable(x);
  const Tensor g = tape.gradient(sum(p(v)), {v})[0];
  CHECK_THAT(g, AllClose(Tensor::from(Shape{1, 1, 2, 2}, {0.0, 0.5, 0.5, 0.0}), 0, 1e-15));
}

namespace {

// conv(1→3, 3x3, pad 1) → relu → maxpool 2 → conv(3→4, 2x2) → avgpool 2 → flatten → matmul + b
// → cross-entropy-like scalar, with every parameter read from one flat vector θ.
struct SmallCnn {
  Generator gen{21};
  nn::Conv2d c1{1, 3, 3, gen, {.padding = 1, .dtype = DType::f64}};
  nn::MaxPool2d pool{2};
  nn::Conv2d c2{3, 4, 2, gen, {.dtype = DType::f64}};
  nn::AvgPool2d avg{2};
  nn::Flatten flatten;
  Tensor fc_w = gc::random_tensor(Shape{4, 3}, -0.8, 0.8, 31);
  Tensor fc_b = gc::random_tensor(Shape{3}, -0.2, 0.2, 32);
  Tensor target = Tensor::from(Shape{2, 3}, {1, 0, 0, 0, 0, 1});

  std::vector<Tensor> parts() {
    return {c1.weight().value, c1.bias()->value, c2.weight().value, c2.bias()->value, fc_w, fc_b};
  }

  Tensor theta() {
    std::vector<Tensor> flat;
    for (const Tensor& p : parts()) flat.push_back(reshape(p, Shape{p.numel()}));
    return concat(std::span<const Tensor>(flat), 0);
  }

  Var loss(const Var& x, const Var& W, const Var& b) {
    Var h = pool(relu(c1(x)));
    Var logits = matmul(flatten(avg(c2(h))), W) + b;
    return -sum(log_softmax(logits, -1) * target) / 2.0 + 0.1 * sum(square(logits));
  }

  // The loss as a function of θ (the input image fixed).
  Var of_theta(const Var& theta, const Tensor& image) {
    std::vector<Var> ps;
    std::ptrdiff_t off = 0;
    for (const Tensor& p : parts()) {
      const auto n = static_cast<std::ptrdiff_t>(p.numel());
      ps.push_back(reshape(slice(theta, 0, off, off + n), p.shape()));
      off += n;
    }
    c1.weight().bind(ps[0]);
    c1.bias()->bind(ps[1]);
    c2.weight().bind(ps[2]);
    c2.bias()->bind(ps[3]);
    return loss(theta.tape()->constant(image), ps[4], ps[5]);
  }
};

}  // namespace

TEST_CASE("small CNN: Taylor-over-reverse HVP equals reverse-over-reverse", "[nn][conv][hvp]") {
  SmallCnn net;
  const Tensor image = gc::random_tensor(Shape{2, 1, 6, 6}, -1, 1, 41);
  const Tensor theta = net.theta();
  REQUIRE(theta.numel() == 27 + 3 + 48 + 4 + 12 + 3);

  SECTION("w.r.t. every parameter") {
    const UnaryFn f = [&](const Var& t) { return net.of_theta(t, image); };
    const Tensor v = gc::random_tensor(theta.shape(), -1, 1, 42);
    const Tensor hv_taylor = hvp(f, theta, v, HvpMethod::taylor_over_reverse);
    const Tensor hv_rr = hvp(f, theta, v, HvpMethod::reverse_over_reverse);
    CHECK_THAT(hv_taylor, AllClose(hv_rr, 0, 1e-10));
    CHECK(max_abs_diff(hv_rr, Tensor::zeros(hv_rr.shape())) > 1e-3);  // a real test: H v is not zero
    // ... and both equal the central difference of the gradient (independent of either sweep).
    const Tensor hv_fd =
        gc::directional_difference([&](const Tensor& t) { return grad(f, t); }, theta, v, 1e-5);
    CHECK_THAT(hv_rr, AllClose(hv_fd, 1e-5, 1e-6));
  }
  SECTION("w.r.t. the input image") {
    const UnaryFn f = [&](const Var& x) {
      Tape& t = *x.tape();
      for (nn::Parameter* p : {&net.c1.weight(), net.c1.bias(), &net.c2.weight(), net.c2.bias()})
        p->bind(t.constant(p->value));
      return net.loss(x, t.constant(net.fc_w), t.constant(net.fc_b));
    };
    const Tensor v = gc::random_tensor(image.shape(), -1, 1, 43);
    const Tensor hv_taylor = hvp(f, image, v, HvpMethod::taylor_over_reverse);
    const Tensor hv_rr = hvp(f, image, v, HvpMethod::reverse_over_reverse);
    CHECK_THAT(hv_taylor, AllClose(hv_rr, 0, 1e-10));
    CHECK(max_abs_diff(hv_rr, Tensor::zeros(hv_rr.shape())) > 1e-4);
  }
  SECTION("higher Taylor coefficients of the gradient agree with nested JVPs of reverse mode") {
    // c[2] of t -> ∇f(θ + t v) is ½ D³f[v, v, ·]; check it by a central difference of c[1] = H v.
    const UnaryFn f = [&](const Var& t) { return net.of_theta(t, image); };
    const Tensor v = gc::random_tensor(theta.shape(), -1, 1, 44);
    const auto c = grad_taylor(f, theta, v, 2);
    REQUIRE(c.size() == 3);
    CHECK_THAT(c[1], AllClose(hvp(f, theta, v, HvpMethod::reverse_over_reverse), 0, 1e-10));
    const Tensor d3 =
        gc::directional_difference([&](const Tensor& t) { return hvp(f, t, v); }, theta, v, 1e-5);
    CHECK_THAT(c[2] * 2.0, AllClose(d3, 1e-5, 1e-6));
  }
}

TEST_CASE("Conv2d / pooling: shape errors name the expected and received shapes", "[nn][conv]") {
  Generator gen(0);
  nn::Conv2d conv(3, 8, 3, gen);
  Tape tape;
  const std::string wrong_channels = message_of<ShapeError>([&] {
    conv(tape.constant(Tensor::zeros(Shape{2, 4, 5, 5}, DType::f32)));
  });
  CHECK_THAT(wrong_channels, Contains("Conv2d(3, 8") && Contains("(N, 3, H, W)") &&
                                 Contains("(2, 4, 5, 5)") && Contains("4 channels"));
  CHECK_THAT(message_of<ShapeError>([&] {
               conv(tape.constant(Tensor::zeros(Shape{3, 5, 5}, DType::f32)));
             }),
             Contains("(N, 3, H, W)") && Contains("(3, 5, 5)"));
  CHECK_THAT(message_of<ShapeError>([&] {
               conv(tape.constant(Tensor::zeros(Shape{1, 3, 2, 5}, DType::f32)));
             }),
             Contains("2x5") && Contains("3x3"));
  CHECK_THAT(message_of<DTypeError>([&] {
               conv(tape.constant(Tensor::zeros(Shape{1, 3, 5, 5})));
             }),
             Contains("float64") && Contains("float32"));
  nn::MaxPool2d pool(2);
  CHECK_THAT(message_of<ShapeError>([&] {
               pool(tape.constant(Tensor::zeros(Shape{4, 5})));
             }),
             Contains("MaxPool2d") && Contains("(N, C, H, W)") && Contains("(4, 5)"));
  CHECK_THAT(message_of<ValueError>([] { nn::AvgPool2d(2, {.padding = 2}); }), Contains("half the kernel"));
  CHECK_THAT(message_of<ShapeError>([&] {
               nn::Flatten(3)(tape.constant(Tensor::zeros(Shape{4, 5})));
             }),
             Contains("(4, 5)"));
}

TEST_CASE("Conv2d: PyTorch's default initialization bounds, float32, and a cached window table",
          "[nn][conv]") {
  Generator gen(5);
  nn::Conv2d conv(4, 6, {3, 2}, gen);
  CHECK(conv.weight().value.shape() == Shape{6, 4, 3, 2});
  CHECK(conv.weight().value.dtype() == DType::f32);
  const double bound = 1.0 / std::sqrt(24.0);
  const Tensor& w = conv.weight().value;
  double lo = 1, hi = -1;
  for (std::size_t i = 0; i < w.numel(); ++i) {
    lo = std::min(lo, w.at(i));
    hi = std::max(hi, w.at(i));
  }
  CHECK(lo >= -bound);
  CHECK(hi <= bound);
  CHECK(hi - lo > bound);  // spread over the interval
  for (std::size_t i = 0; i < 6; ++i) CHECK(std::abs(conv.bias()->value.at(i)) <= bound);
  // Same seed, same weights.
  Generator gen2(5);
  nn::Conv2d again(4, 6, {3, 2}, gen2);
  CHECK(max_abs_diff(again.weight().value, w) == 0.0);
  // float32 forward; two input sizes in a row (the cached table is replaced).
  Tape tape;
  CHECK(conv(tape.constant(Tensor::ones(Shape{2, 4, 5, 5}, DType::f32))).shape() == Shape{2, 6, 3, 4});
  CHECK(conv(tape.constant(Tensor::ones(Shape{1, 4, 7, 3}, DType::f32))).shape() == Shape{1, 6, 5, 2});
  CHECK(conv.describe() == "Conv2d(4, 6, kernel 3x2)");
}

TEST_CASE("Conv2d: a replayed tape recomputes the convolution at new inputs", "[nn][conv]") {
  Generator gen(8);
  nn::Conv2d conv(2, 3, 3, gen, f64({.stride = 2, .padding = 1}));
  nn::MaxPool2d pool(2);
  const Tensor x0 = gc::random_tensor(Shape{2, 2, 6, 6}, -1, 1, 1),
               x1 = gc::random_tensor(Shape{2, 2, 6, 6}, -1, 1, 2);
  Tape tape;
  Var x = tape.variable(x0);
  Var y = sum(square(pool(conv(x))));
  tape.replay({x1, conv.weight().value, conv.bias()->value});  // every input, in creation order
  Tape fresh;
  Var z = sum(square(pool(conv(fresh.variable(x1)))));
  CHECK(std::abs(y.item() - z.item()) < 1e-12);
}

// Not a benchmark (those live in bench/): prints the forward time of a 2-conv CNN on a batch of
// 64 28x28 images, float32, for the record. Run with: jetgrad_tests "[.timing]" -s
TEST_CASE("small CNN forward time, batch 64 of 28x28", "[.timing]") {
  Generator gen(1);
  nn::Conv2d c1(1, 8, 3, gen, {.padding = 1});
  nn::MaxPool2d p1(2);
  nn::Conv2d c2(8, 16, 3, gen, {.padding = 1});
  nn::MaxPool2d p2(2);
  nn::Flatten flat;
  const Tensor fc = uniform(Shape{16 * 7 * 7, 10}, -0.05, 0.05, gen, DType::f32);
  const Tensor images = uniform(Shape{64, 1, 28, 28}, 0, 1, gen, DType::f32);
  const auto run = [&](bool backward) {
    Tape tape;
    Var x = tape.constant(images);
    Var logits = matmul(flat(p2(relu(c2(p1(relu(c1(x))))))), fc);
    Var loss = sum(square(logits));
    if (backward) (void)tape.gradient(loss, {c1.weight().var(tape), c2.weight().var(tape)});
  };
  for (bool backward : {false, true}) {
    run(backward);
    const int reps = 20;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i) run(backward);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / reps;
    WARN((backward ? "forward + backward: " : "forward: ") << ms << " ms");
  }
}
