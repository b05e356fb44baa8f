// nn modules end to end: a 2-layer tanh MLP fits XOR with plain SGD, an MLP classifies two spirals,
// a training run is reproducible bit for bit, save -> load gives identical outputs, and damaged or
// foreign checkpoints are rejected with their reason.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <numbers>
#include <string>
#include <vector>

#include <unistd.h>

#include <catch2/catch.hpp>

#include "nn/activation.hpp"
#include "nn/dropout.hpp"
#include "nn/linear.hpp"
#include "nn/loss.hpp"
#include "support/gradcheck_support.hpp"
#include "support/messages.hpp"
#include "support/optim_models.hpp"
#include "support/temp_files.hpp"

using namespace jetgrad;
using Catch::Contains;

namespace {

using jetgrad::test::message_of;
using jetgrad::test::read_bytes;
using jetgrad::test::same_bits;
using jetgrad::test::TempFile;
using jetgrad::test::write_bytes;

std::shared_ptr<nn::Sequential> mlp(std::vector<std::size_t> sizes, Generator& gen,
                                    DType dtype = DType::f64) {
  auto net = std::make_shared<nn::Sequential>();
  for (std::size_t i = 0; i + 1 < sizes.size(); ++i) {
    if (i > 0) net->push_back(std::make_shared<nn::Tanh>());
    net->push_back(std::make_shared<nn::Linear>(sizes[i], sizes[i + 1], gen, true, dtype));
  }
  return net;
}

void sgd_step(nn::Module& m, double lr) {
  for (nn::Parameter* p : m.parameters()) p->value = p->value - lr * p->grad;
}

}  // namespace

TEST_CASE("backward accumulates into grad; zero_grad resets it; writes to grad are kept", "[nn][module]") {
  Generator gen(3);
  auto net = mlp({3, 4, 2}, gen);
  const Tensor X = Tensor::from({2, 3}, {0.5, -1, 2, 1, 0.25, -0.5});
  const auto backward_once = [&] {
    Tape tape;
    nn::backward(sum((*net)(tape.constant(X)) * (*net)(tape.constant(X))), *net);
  };
  const auto params = net->parameters();
  std::vector<Tensor> once;
  net->zero_grad();
  backward_once();
  for (nn::Parameter* p : params) once.push_back(p->grad);
  backward_once();  // no zero_grad: the second gradient adds to the first
  for (std::size_t i = 0; i < params.size(); ++i) {
    INFO(params[i]->name());
    CHECK_THAT(params[i]->grad, gc::AllClose(once[i] * 2.0, 1e-14, 1e-14));
  }
  // zero_grad gives zeros of the value's shape, also after the zeros were written through grad.
  for (int round = 0; round < 2; ++round) {
    net->zero_grad();
    for (std::size_t i = 0; i < params.size(); ++i) {
      INFO(params[i]->name() << " round " << round);
      CHECK(params[i]->grad.shape() == params[i]->value.shape());
      CHECK_THAT(params[i]->grad, gc::AllClose(Tensor::zeros(params[i]->value.shape()), 0, 0));
      params[i]->grad.set(0, 5.0);  // a user's write after zero_grad ...
    }
  }
  backward_once();  // ... is kept: the gradient adds to it
  for (std::size_t i = 0; i < params.size(); ++i) {
    INFO(params[i]->name());
    Tensor expected = once[i];
    expected.set(0, expected.at(0) + 5.0);
    CHECK_THAT(params[i]->grad, gc::AllClose(expected, 1e-14, 1e-14));
  }
}

TEST_CASE("XOR: a 2-layer tanh MLP with plain SGD reaches loss < 0.01", "[nn][train]") {
  Generator gen(1);
  auto net = mlp({2, 8, 1}, gen);
  const Tensor X = Tensor::from({4, 2}, {0, 0, 0, 1, 1, 0, 1, 1});
  const Tensor Y = Tensor::from({4, 1}, {0, 1, 1, 0});
  double loss = 1.0;
  for (int step = 0; step < 3000 && loss >= 0.01; ++step) {
    Tape tape;
    const Var l = nn::mse_loss((*net)(tape.constant(X)), Y);
    net->zero_grad();
    nn::backward(l, *net);
    sgd_step(*net, 0.2);
    loss = l.item();
  }
  INFO("final loss " << loss);
  CHECK(loss < 0.01);
  Tape tape;
  const Tensor out = (*net)(tape.constant(X)).value();
  for (std::size_t i = 0; i < 4; ++i) CHECK(std::abs(out.at(i) - Y.at(i)) < 0.2);
}

TEST_CASE("two spirals: an MLP reaches >= 95% training accuracy", "[nn][train]") {
  Generator gen(7);
  const std::size_t per_class = 100, n = 2 * per_class;
  Tensor X(DType::f64, Shape{n, 2});
  std::vector<std::size_t> labels(n);
  for (std::size_t i = 0; i < per_class; ++i) {
    const double t = 0.1 + 0.9 * static_cast<double>(i) / static_cast<double>(per_class);  // radius
    const double theta = 3.0 * std::numbers::pi * t;                                       // 1.5 turns
    for (std::size_t c = 0; c < 2; ++c) {
      const double sgn = c == 0 ? 1.0 : -1.0;
      const std::size_t row = 2 * i + c;
      X.set(row * 2 + 0, sgn * t * std::cos(theta) + 0.01 * gen.normal());
      X.set(row * 2 + 1, sgn * t * std::sin(theta) + 0.01 * gen.normal());
      labels[row] = c;
    }
  }
  auto net = mlp({2, 32, 32, 2}, gen);
  // Adam, written out here (optim/ is a layer above nn).
  std::vector<Tensor> m1, m2;
  for (nn::Parameter* p : net->parameters()) {
    m1.push_back(Tensor::zeros(p->value.shape()));
    m2.push_back(Tensor::zeros(p->value.shape()));
  }
  const double lr = 0.02, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  double accuracy = 0.0;
  for (int step = 1; step <= 1500; ++step) {
    Tape tape;
    const Var logits = (*net)(tape.constant(X));
    const Var loss = nn::cross_entropy(logits, labels);
    net->zero_grad();
    nn::backward(loss, *net);
    const auto params = net->parameters();
    for (std::size_t k = 0; k < params.size(); ++k) {
      const Tensor& g = params[k]->grad;
      m1[k] = b1 * m1[k] + (1 - b1) * g;
      m2[k] = b2 * m2[k] + (1 - b2) * square(g);
      const Tensor mh = m1[k] / (1 - std::pow(b1, step)), vh = m2[k] / (1 - std::pow(b2, step));
      params[k]->value = params[k]->value - lr * mh / (sqrt(vh) + eps);
    }
    if (step % 100 == 0) {
      const Tensor pred = argmax(logits.value(), 1);
      std::size_t right = 0;
      for (std::size_t i = 0; i < n; ++i) right += static_cast<std::size_t>(pred.at(i)) == labels[i];
      accuracy = static_cast<double>(right) / static_cast<double>(n);
      if (accuracy >= 0.99) break;
    }
  }
  INFO("training accuracy " << accuracy);
  CHECK(accuracy >= 0.95);
}

TEST_CASE("a training run with dropout is reproducible bit for bit from one seed", "[nn][reproducible]") {
  auto run = [](std::uint64_t seed) {
    Generator gen(seed);
    nn::Sequential net;
    net.push_back(std::make_shared<nn::Linear>(3, 16, gen));  // float32, the default
    net.push_back(std::make_shared<nn::GELU>());
    net.push_back(std::make_shared<nn::Dropout>(0.3, gen));
    net.push_back(std::make_shared<nn::Linear>(16, 2, gen));
    const Tensor X = normal(Shape{8, 3}, 0.0, 1.0, gen, DType::f32);
    const std::vector<std::size_t> y = {0, 1, 1, 0, 1, 0, 0, 1};
    for (int step = 0; step < 20; ++step) {
      Tape tape;
      const Var loss = nn::cross_entropy(net(tape.constant(X)), y);
      net.zero_grad();
      nn::backward(loss, net);
      sgd_step(net, 0.1);
    }
    return net.state();
  };
  const auto a = run(11), b = run(11), c = run(12);
  REQUIRE(a.size() == 4);
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].first == b[i].first);
    CHECK(same_bits(a[i].second, b[i].second));
    CHECK_FALSE(same_bits(a[i].second, c[i].second));
  }
}

TEST_CASE("save -> load gives identical outputs", "[nn][serialize]") {
  Generator gen(3);
  auto saved = mlp({4, 6, 3}, gen, DType::f32);
  auto loaded = mlp({4, 6, 3}, gen, DType::f32);  // other weights until loaded
  const Tensor X = normal(Shape{5, 4}, 0.0, 1.0, gen, DType::f32);
  TempFile file("roundtrip.jgw");
  saved->save(file.path);
  {
    Tape tape;
    const Var x = tape.constant(X);
    CHECK_FALSE(same_bits((*saved)(x).value(), (*loaded)(x).value()));
  }
  loaded->load(file.path);
  // a fresh tape: parameters bound to a tape keep the values they had when they joined it
  Tape tape;
  const Var x = tape.constant(X);
  CHECK(same_bits((*saved)(x).value(), (*loaded)(x).value()));
  for (std::size_t i = 0; i < saved->parameters().size(); ++i)
    CHECK(same_bits(saved->parameters()[i]->value, loaded->parameters()[i]->value));
  CHECK_FALSE(std::filesystem::exists(file.path + ".tmp." + std::to_string(::getpid())));
}

TEST_CASE("damaged and foreign checkpoints are rejected with their reason", "[nn][serialize]") {
  Generator gen(4);
  auto net = mlp({3, 5, 2}, gen);
  TempFile good("good.jgw"), bad("bad.jgw");
  net->save(good.path);
  const std::string bytes = read_bytes(good.path);
  REQUIRE(bytes.size() > 40);
  const Tensor before = net->parameters()[0]->value;

  SECTION("truncated") {
    for (std::size_t keep : {bytes.size() / 2, bytes.size() - 1, std::size_t{12}}) {
      write_bytes(bad.path, bytes.substr(0, keep));
      CHECK_THAT(message_of<Error>([&] { net->load(bad.path); }),
                 Contains("truncated") && Contains(bad.path));
    }
  }
  SECTION("a flipped byte in the data fails the checksum") {
    std::string damaged = bytes;
    damaged[damaged.size() - 10] = static_cast<char>(damaged[damaged.size() - 10] ^ 0x40);
    write_bytes(bad.path, damaged);
    CHECK_THAT(message_of<Error>([&] { net->load(bad.path); }), Contains("checksum") && Contains(bad.path));
  }
  SECTION("not a weight file") {
    write_bytes(bad.path, "hello, world: not jetgrad weights at all");
    CHECK_THAT(message_of<Error>([&] { net->load(bad.path); }), Contains("not a jetgrad tensor file"));
  }
  SECTION("another architecture: the mismatching entry is named") {
    auto wider = mlp({3, 7, 2}, gen);
    wider->save(bad.path);
    CHECK_THAT(message_of<Error>([&] { net->load(bad.path); }),
               Contains("'0.weight'") && Contains("(7, 3)") && Contains("(5, 3)"));
    auto deeper = mlp({3, 5, 5, 2}, gen);
    deeper->save(bad.path);
    CHECK_THAT(message_of<Error>([&] { net->load(bad.path); }),
               Contains("6 tensors") && Contains("4 parameters"));
  }
  SECTION("another dtype") {
    auto f32 = mlp({3, 5, 2}, gen, DType::f32);
    f32->save(bad.path);
    CHECK_THAT(message_of<Error>([&] { net->load(bad.path); }), Contains("float32") && Contains("float64"));
  }
  // nothing was changed by a failed load
  CHECK(same_bits(before, net->parameters()[0]->value));
}

TEST_CASE("summary lists the layers", "[nn][module]") {
  Generator gen(5);
  auto net = mlp({2, 3, 1}, gen);
  const std::string s = net->summary();
  CHECK_THAT(
      s, Contains("Sequential") && Contains("Linear(2, 3)") && Contains("Tanh") && Contains("13 parameters"));
}
