// Thread safety: no global mutable state, one tape per thread. Two threads that each train their
// own model (own Generator, own tapes, every sweep: reverse, Taylor over reverse, Adam) at the same
// time get bit for bit what the same runs give one after the other.
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "support/tiny_training.hpp"

using namespace jetgrad;
using test::TinyRun;

namespace {

struct Result {
  nn::NamedTensors state;
  std::vector<double> losses, curvatures;
};

Result run(std::uint64_t seed, int steps) {
  TinyRun r(seed);
  r.train(steps);
  return {r.state(), r.losses, r.curvatures};
}

}  // namespace

TEST_CASE("threads: two models trained at once equal the same runs one after the other", "[threads]") {
  constexpr int steps = 12;
  const Result seq_a = run(101, steps), seq_b = run(202, steps);
  REQUIRE(seq_a.losses.size() == steps);
  REQUIRE_FALSE(test::same_bits(seq_a.state, seq_b.state));  // different seeds, different runs

  for (int repeat = 0; repeat < 3; ++repeat) {
    Result par_a, par_b;
    std::thread ta([&] { par_a = run(101, steps); });
    std::thread tb([&] { par_b = run(202, steps); });
    ta.join();
    tb.join();
    CHECK(test::same_bits(par_a.state, seq_a.state));
    CHECK(test::same_bits(par_b.state, seq_b.state));
    CHECK(test::same_bits(par_a.losses, seq_a.losses));
    CHECK(test::same_bits(par_b.losses, seq_b.losses));
    CHECK(test::same_bits(par_a.curvatures, seq_a.curvatures));
    CHECK(test::same_bits(par_b.curvatures, seq_b.curvatures));
  }
}

TEST_CASE("threads: the functional API and replays run concurrently on per-thread tapes", "[threads]") {
  // Each thread records a tape, replays it at many points, and takes Taylor coefficients; the
  // results equal a single-threaded computation of the same.
  auto work = [](double offset) {
    std::vector<double> out;
    Tape tape;
    const Var x = tape.variable(Tensor::from({3}, {offset, 0.2, -0.4}));
    const Var y = sum(sin(x) * exp(x) + log(x * x + 1.0));
    for (int k = 0; k < 50; ++k) {
      tape.replay({Tensor::from({3}, {offset + 0.01 * k, 0.2, -0.4})});
      out.push_back(y.item());
      out.push_back(tape.gradient(y, {x})[0].at(0));
    }
    const std::vector<Tensor> c = taylor([](const Var& v) { return sum(tanh(v) * v); },
                                         Tensor::from({2}, {offset, 1.0}), Tensor::from({2}, {1.0, -1.0}), 4);
    for (const Tensor& t : c) out.push_back(t.item());
    return out;
  };
  const std::vector<double> a = work(0.3), b = work(-0.7);
  std::vector<double> pa, pb;
  std::thread t1([&] { pa = work(0.3); }), t2([&] { pb = work(-0.7); });
  t1.join();
  t2.join();
  CHECK(test::same_bits(pa, a));
  CHECK(test::same_bits(pb, b));
}

TEST_CASE("threads: copies of one tensor are read, written and dropped on several threads", "[threads]") {
  // The shared buffer's count is atomic: each thread copies, writes its own copy (detaching it) and
  // drops its copies, many times; the original and every thread's result stay exact.
  const Tensor original = Tensor::arange(4096, DType::f32);
  const auto work = [&](double delta) {
    double total = 0.0;
    for (int k = 0; k < 2000; ++k) {
      Tensor mine = original;
      const Tensor reader = original;  // a copy that is only read, and dropped at once
      mine.set(static_cast<std::size_t>(k), delta);
      total += mine.at(static_cast<std::size_t>(k)) + reader.at(4095);
    }
    return total;
  };
  double ta = 0.0, tb = 0.0;
  std::thread t1([&] { ta = work(1.0); }), t2([&] { tb = work(-1.0); });
  t1.join();
  t2.join();
  CHECK(ta == 2000.0 * (1.0 + 4095.0));
  CHECK(tb == 2000.0 * (-1.0 + 4095.0));
  for (std::size_t i = 0; i < original.numel(); ++i) REQUIRE(original.at(i) == static_cast<double>(i));
}
