// The bad-input catalogue: one test per kind of bad input, each asserting that the error names
// what was expected and what came (DESIGN.md, Errors). Bad command-line values belong to the
// jetgrad program's own tests (apps/).
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <catch2/catch.hpp>

#include "autodiff/autodiff.hpp"
#include "nn/data.hpp"
#include "nn/linear.hpp"
#include "nn/module.hpp"
#include "nn/serialize.hpp"
#include "support/temp_files.hpp"

using namespace jetgrad;
using Catch::Contains;
using test::read_bytes;
using test::TempFile;
using test::write_bytes;

namespace {

void put_be32(std::string& s, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) s.push_back(static_cast<char>((v >> shift) & 0xff));
}
// An IDX file: magic, dimensions, then one byte per element.
std::string idx_bytes(std::uint32_t magic, const std::vector<std::uint32_t>& dims) {
  std::string s;
  put_be32(s, magic);
  std::size_t n = 1;
  for (std::uint32_t d : dims) {
    put_be32(s, d);
    n *= d;
  }
  for (std::size_t i = 0; i < n; ++i) s.push_back(static_cast<char>(i % 251));
  return s;
}

std::shared_ptr<nn::Sequential> mlp(std::size_t in, std::size_t hidden, std::size_t out,
                                    DType dtype = DType::f64) {
  Generator gen(5);
  auto net = std::make_shared<nn::Sequential>();
  net->push_back(std::make_shared<nn::Linear>(in, hidden, gen, true, dtype));
  net->push_back(std::make_shared<nn::Linear>(hidden, out, gen, true, dtype));
  return net;
}

std::string entry(std::size_t i) { return "#" + std::to_string(i); }

}  // namespace

// ---- shapes and dtypes ---------------------------------------------------------------------------

TEST_CASE("bad input: shapes that do not broadcast name both shapes and the op", "[bad-input]") {
  Tape tape;
  const Var a = tape.variable(Tensor::zeros(Shape{2, 3}));
  const Var b = tape.variable(Tensor::zeros(Shape{4}));
  REQUIRE_THROWS_AS(a + b, ShapeError);
  REQUIRE_THROWS_WITH(a + b, Contains("add: cannot broadcast shapes (2, 3) and (4,)"));
  REQUIRE_THROWS_WITH(a * b, Contains("mul") && Contains("(2, 3)") && Contains("(4,)"));
}

TEST_CASE("bad input: matmul with inner dimensions that differ names both shapes", "[bad-input]") {
  Tape tape;
  const Var a = tape.variable(Tensor::zeros(Shape{2, 3}));
  const Var b = tape.variable(Tensor::zeros(Shape{4, 5}));
  REQUIRE_THROWS_AS(matmul(a, b), ShapeError);
  REQUIRE_THROWS_WITH(matmul(a, b), Contains("matmul") && Contains("(2, 3)") && Contains("(4, 5)"));
}

TEST_CASE("bad input: float32 and float64 mixed name both dtypes", "[bad-input]") {
  Tape tape;
  const Var a = tape.variable(Tensor::ones(Shape{3}, DType::f32));
  const Var b = tape.variable(Tensor::ones(Shape{3}, DType::f64));
  REQUIRE_THROWS_AS(a + b, DTypeError);
  REQUIRE_THROWS_WITH(a + b, Contains("float32") && Contains("float64"));
}

TEST_CASE("bad input: reshape to another number of elements names both shapes", "[bad-input]") {
  Tape tape;
  const Var a = tape.variable(Tensor::zeros(Shape{2, 3}));
  REQUIRE_THROWS_AS(reshape(a, Shape{4, 2}), ShapeError);
  REQUIRE_THROWS_WITH(reshape(a, Shape{4, 2}), Contains("(2, 3)") && Contains("(4, 2)"));
}

TEST_CASE("bad input: an axis out of range names the axis and the rank", "[bad-input]") {
  Tape tape;
  const Var a = tape.variable(Tensor::zeros(Shape{2, 3}));
  REQUIRE_THROWS_AS(sum(a, 2), ShapeError);
  REQUIRE_THROWS_WITH(sum(a, 2), Contains("axis 2") && Contains("rank 2"));
}

TEST_CASE("bad input: gather with an index out of range names the index and the extent", "[bad-input]") {
  Tape tape;
  const Var a = tape.variable(Tensor::zeros(Shape{2, 3}));
  const std::vector<std::size_t> idx = {0, 7};
  REQUIRE_THROWS_AS(gather(a, idx, 1), ValueError);
  REQUIRE_THROWS_WITH(gather(a, idx, 1), Contains("7") && Contains("3"));
}

TEST_CASE("bad input: clamp with lo > hi names both bounds", "[bad-input]") {
  Tape tape;
  const Var a = tape.variable(Tensor::zeros(Shape{2}));
  REQUIRE_THROWS_AS(clamp(a, 1.0, -1.0), ValueError);
  REQUIRE_THROWS_WITH(clamp(a, 1.0, -1.0), Contains("lo <= hi") && Contains("lo = 1") && Contains("hi = -1"));
}

TEST_CASE("bad input: the gradient of a non-scalar output names its shape", "[bad-input]") {
  Tape tape;
  const Var x = tape.variable(Tensor::ones(Shape{3}));
  const Var y = x * 2.0;
  REQUIRE_THROWS_AS(tape.gradient(y, {x}), ShapeError);
  REQUIRE_THROWS_WITH(tape.gradient(y, {x}), Contains("one element") && Contains("(3,)"));
}

TEST_CASE("bad input: a vjp cotangent of the wrong shape names both shapes", "[bad-input]") {
  Tape tape;
  const Var x = tape.variable(Tensor::ones(Shape{3}));
  const Var y = x * 2.0;
  const Var wrt[] = {x};
  REQUIRE_THROWS_AS(tape.vjp(y, Tensor::ones(Shape{4}), wrt), ShapeError);
  REQUIRE_THROWS_WITH(tape.vjp(y, Tensor::ones(Shape{4}), wrt),
                      Contains("cotangent") && Contains("(4,)") && Contains("(3,)"));
}

TEST_CASE("bad input: a direction of the wrong shape in jvp / hvp / taylor names both shapes",
          "[bad-input]") {
  auto f = [](const Var& x) { return sum(sin(x)); };
  const Tensor x = Tensor::ones(Shape{3});
  const Tensor v = Tensor::ones(Shape{2});
  REQUIRE_THROWS_WITH(hvp(f, x, v), Contains("hvp") && Contains("(2,)") && Contains("(3,)"));
  REQUIRE_THROWS_WITH(taylor(f, x, v, 2), Contains("taylor") && Contains("(2,)") && Contains("(3,)"));
  REQUIRE_THROWS_WITH(jvp(f, x, v), Contains("(2,)") && Contains("(3,)"));
  REQUIRE_THROWS_WITH(hvp(f, x, Tensor::ones(Shape{3}, DType::f32)),
                      Contains("float32") && Contains("float64"));
}

// ---- out-of-domain values and NaN/Inf mid-graph (anomaly mode) -----------------------------------

TEST_CASE("bad input: anomaly mode names the entry where log of a negative made a NaN",
          "[bad-input][anomaly]") {
  Tape tape;
  tape.set_detect_anomaly(true);
  const Var x = tape.variable(Tensor::from({3}, {2.0, 0.5, 1.0}));
  const Var shifted = x - 1.0;  // 1, -0.5, 0: finite
  const std::size_t log_entry = tape.size();
  REQUIRE_THROWS_AS(log(shifted), Error);
  REQUIRE_THROWS_WITH(log(shifted), Contains("anomaly") && Contains("entry " + entry(log_entry)) &&
                                        Contains("(Log)") && Contains("nan") && Contains("element 1") &&
                                        Contains("(3,)"));
  // Off by default: the NaN is returned.
  Tape plain;
  CHECK(std::isnan(log(plain.variable(Tensor(-1.0))).item()));
}

TEST_CASE("bad input: anomaly mode names the entry whose reverse rule made an inf (sqrt at 0)",
          "[bad-input][anomaly]") {
  Tape tape;
  tape.set_detect_anomaly(true);
  const Var x = tape.variable(Tensor::from({2}, {4.0, 0.0}));
  const std::size_t sqrt_entry = tape.size();
  const Var y = sum(sqrt(x));  // sqrt(0) = 0 is finite: the forward values pass
  REQUIRE_THROWS_AS(tape.gradient(y, {x}), Error);
  REQUIRE_THROWS_WITH(tape.gradient(y, {x}), Contains("anomaly: the reverse rule of entry " +
                                                      entry(sqrt_entry) + " (Sqrt) produced inf") &&
                                                 Contains("element 1") && Contains("cotangent of entry #0"));
  // The 0-d path (scalar lane) is checked too.
  Tape scalar;
  scalar.set_detect_anomaly(true);
  const Var s = scalar.variable(Tensor(0.0));
  const std::size_t e = scalar.size();
  const Var z = sqrt(s);
  REQUIRE_THROWS_WITH(scalar.gradient(z, {s}),
                      Contains("reverse rule of entry " + entry(e) + " (Sqrt) produced inf"));
}

TEST_CASE("bad input: anomaly mode names the entry where an Inf appears mid-graph during a replay",
          "[bad-input][anomaly]") {
  Tape tape;
  tape.set_detect_anomaly(true);
  const Var x = tape.variable(Tensor::from({2}, {1.0, 0.5}));
  const Var h = x * 400.0;  // e^400 and e^200: finite when recorded
  const std::size_t exp_entry = tape.size();
  (void)sum(tanh(exp(h)));
  // e^(400·2) overflows: Exp is the first entry to go infinite.
  REQUIRE_THROWS_WITH(tape.replay({Tensor::from({2}, {0.5, 2.0})}),
                      Contains("anomaly") && Contains("entry " + entry(exp_entry) + " (Exp)") &&
                          Contains("inf") && Contains("element 1") && Contains("replay"));
}

// ---- replay and tape misuse ------------------------------------------------------------------------

TEST_CASE("bad input: a replay whose recorded branch flipped names the entry and both outcomes",
          "[bad-input][replay]") {
  Tape tape;
  const Var x = tape.variable(Tensor::from({2}, {0.5, 2.0}));
  const Var cond = x > 0.0;
  const std::size_t branch_entry = tape.size();
  REQUIRE(branch(cond));
  (void)sum(log(x));
  REQUIRE_THROWS_AS(tape.replay({Tensor::from({2}, {0.5, -1.0})}), TapeError);
  REQUIRE_THROWS_WITH(tape.replay({Tensor::from({2}, {0.5, -1.0})}),
                      Contains("branch recorded at entry " + entry(branch_entry)) &&
                          Contains("was true when recorded and is false"));
}

TEST_CASE("bad input: a replay with the wrong inputs names what was recorded and what came",
          "[bad-input][replay]") {
  Tape tape;
  const Var x = tape.variable(Tensor::ones(Shape{3}));
  (void)sum(x * x);
  REQUIRE_THROWS_WITH(tape.replay({Tensor::ones(Shape{3}), Tensor::ones(Shape{3})}),
                      Contains("1 inputs") && Contains("got 2"));
  REQUIRE_THROWS_WITH(tape.replay({Tensor::ones(Shape{4})}),
                      Contains("input 0") && Contains("float64(3,)") && Contains("float64(4,)"));
  REQUIRE_THROWS_WITH(tape.replay({Tensor::ones(Shape{3}, DType::f32)}),
                      Contains("float64(3,)") && Contains("float32(3,)"));
}

TEST_CASE("bad input: a tape used from another thread names both threads", "[bad-input][thread]") {
  Tape tape;
  const Var x = tape.variable(Tensor::ones(Shape{2}));
  const Var y = sum(x * x);
  std::string record, gradient, replay;
  std::thread([&] {
    try {
      (void)exp(x);
    } catch (const TapeError& e) {
      record = e.what();
    }
    try {
      (void)tape.gradient(y, {x});
    } catch (const TapeError& e) {
      gradient = e.what();
    }
    try {
      tape.replay({Tensor::ones(Shape{2})});
    } catch (const TapeError& e) {
      replay = e.what();
    }
  }).join();
  CHECK_THAT(record, Contains("Exp: this tape belongs to thread") && Contains("but was used from thread") &&
                         Contains("one tape per thread"));
  CHECK_THAT(gradient, Contains("belongs to thread"));
  CHECK_THAT(replay, Contains("replay: this tape belongs to thread"));
}

TEST_CASE("bad input: a variable used after its tape was cleared names the generations",
          "[bad-input][clear]") {
  Tape tape;
  const Var x = tape.variable(Tensor::ones(Shape{2}));
  tape.clear();
  REQUIRE_THROWS_AS(exp(x), TapeError);
  REQUIRE_THROWS_WITH(exp(x), Contains("variable #0") && Contains("before the tape was cleared") &&
                                  Contains("generation 0") && Contains("generation 1"));
}

TEST_CASE("bad input: variables of two tapes mixed in one op are refused", "[bad-input]") {
  Tape t1, t2;
  const Var a = t1.variable(Tensor::ones(Shape{2}));
  const Var b = t2.variable(Tensor::ones(Shape{2}));
  REQUIRE_THROWS_AS(a + b, TapeError);
  REQUIRE_THROWS_WITH(a + b, Contains("two different tapes"));
}

// ---- checkpoints -----------------------------------------------------------------------------------

TEST_CASE("bad input: a truncated checkpoint names the file and the missing bytes",
          "[bad-input][checkpoint]") {
  auto net = mlp(3, 4, 2);
  TempFile good("good.jgw"), bad("truncated.jgw");
  net->save(good.path);
  const std::string bytes = read_bytes(good.path);
  write_bytes(bad.path, bytes.substr(0, bytes.size() / 2));
  REQUIRE_THROWS_WITH(net->load(bad.path),
                      Contains(bad.path) && Contains("truncated file: expected") && Contains("more bytes"));
  REQUIRE_THROWS_WITH(nn::load_tensors(bad.path), Contains("truncated"));
}

TEST_CASE("bad input: a checkpoint with a flipped byte fails its checksum", "[bad-input][checkpoint]") {
  auto net = mlp(3, 4, 2);
  TempFile good("good.jgw"), bad("flipped.jgw");
  net->save(good.path);
  std::string bytes = read_bytes(good.path);
  bytes[bytes.size() - 9] = static_cast<char>(bytes[bytes.size() - 9] ^ 0x10);
  write_bytes(bad.path, bytes);
  REQUIRE_THROWS_WITH(net->load(bad.path), Contains(bad.path) && Contains("checksum mismatch"));
}

TEST_CASE("bad input: a checkpoint of another model names the entry and both shapes",
          "[bad-input][checkpoint]") {
  auto net = mlp(3, 4, 2);
  auto other = mlp(3, 6, 2);
  TempFile file("other.jgw");
  other->save(file.path);
  const Tensor before = net->parameters()[0]->value;
  REQUIRE_THROWS_WITH(net->load(file.path), Contains(file.path) && Contains("'0.weight'") &&
                                                Contains("(6, 3)") && Contains("(4, 3)"));
  // nothing changed
  CHECK(net->parameters()[0]->value.at(0) == before.at(0));
  auto f32 = mlp(3, 4, 2, DType::f32);
  f32->save(file.path);
  REQUIRE_THROWS_WITH(net->load(file.path), Contains("float32") && Contains("float64"));
}

TEST_CASE("bad input: a file that is not a checkpoint names the expected magic", "[bad-input][checkpoint]") {
  TempFile file("text.jgw");
  write_bytes(file.path, "just some text, not tensors");
  REQUIRE_THROWS_WITH(nn::load_tensors(file.path),
                      Contains(file.path) && Contains("not a jetgrad tensor file") && Contains("JETGRAD"));
  REQUIRE_THROWS_WITH(nn::load_tensors(file.path + ".missing"), Contains("cannot open"));
}

// ---- data files ------------------------------------------------------------------------------------

TEST_CASE("bad input: a truncated IDX file names the expected and found sizes", "[bad-input][data]") {
  TempFile file("truncated-idx3-ubyte");
  const std::string bytes = idx_bytes(0x00000803, {4, 3, 3});
  write_bytes(file.path, bytes.substr(0, bytes.size() - 5));
  REQUIRE_THROWS_WITH(nn::read_idx_images(file.path),
                      Contains(file.path) &&
                          Contains("truncated file: expected " + std::to_string(bytes.size())) &&
                          Contains("found " + std::to_string(bytes.size() - 5)));
  write_bytes(file.path, bytes.substr(0, 2));
  REQUIRE_THROWS_WITH(nn::read_idx_images(file.path), Contains("truncated") && Contains("magic"));
}

TEST_CASE("bad input: an IDX file with the wrong magic number names both numbers", "[bad-input][data]") {
  TempFile file("labels-idx1-ubyte");
  write_bytes(file.path, idx_bytes(0x00000801, {5}));
  REQUIRE_THROWS_WITH(nn::read_idx_images(file.path),
                      Contains(file.path) && Contains("wrong magic number 0x00000801") &&
                          Contains("expected 0x00000803") && Contains("looks like an IDX label file"));
  write_bytes(file.path, "GIF89a....");
  REQUIRE_THROWS_WITH(nn::read_idx(file.path), Contains("not an IDX file"));
}

TEST_CASE("bad input: an IDX label out of range names the label, the index and the range",
          "[bad-input][data]") {
  TempFile file("range-idx1-ubyte");
  std::string bytes;
  put_be32(bytes, 0x00000801);
  put_be32(bytes, 3);
  bytes += std::string{char(1), char(12), char(3)};
  write_bytes(file.path, bytes);
  REQUIRE_THROWS_WITH(nn::read_idx_labels(file.path, 10),
                      Contains("label 12") && Contains("index 1") && Contains("expected 0 to"));
}
