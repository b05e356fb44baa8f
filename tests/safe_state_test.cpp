// Safe state: checkpoints are written atomically (nn::write_file_atomically: a temporary file,
// fsync, rename), so a training process killed while it saves leaves the previous checkpoint
// intact and loadable; and a run is a pure function of its seed, bit for bit.
#include <chrono>
#include <csignal>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "support/tiny_training.hpp"

using namespace jetgrad;
using test::TinyRun;

namespace {

// A checkpoint of run state after `step` steps plus a large block (as an optimizer's state would
// be), filled with the step number so a half-written block could never pass for a whole one.
nn::NamedTensors checkpoint(TinyRun& run, std::size_t step, std::size_t big_elements) {
  nn::NamedTensors s = run.state();
  s.emplace_back("step", Tensor(static_cast<double>(step)));
  s.emplace_back("block", Tensor::full(Shape{big_elements}, static_cast<double>(step)));
  return s;
}

}  // namespace

TEST_CASE("safe state: a process killed while saving leaves the previous checkpoint loadable",
          "[safe-state]") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("jetgrad_safe_state_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "model.ckpt").string();
  constexpr std::uint64_t seed = 77;
  constexpr std::size_t big = 4u << 20;  // 4 Mi doubles: 32 MiB per save, so a kill lands mid-write

  {
    TinyRun run(seed);
    nn::save_tensors(path, checkpoint(run, 0, big));  // the checkpoint before training
  }

  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The training process: a step, a checkpoint, a note to the parent; until killed.
    ::close(pipe_fds[0]);
    TinyRun run(seed);
    for (std::size_t step = 1;; ++step) {
      run.train(1);
      nn::save_tensors(path, checkpoint(run, step, big));
      const char note = 'S';
      if (::write(pipe_fds[1], &note, 1) != 1) ::_exit(3);
    }
  }
  ::close(pipe_fds[1]);
  // Let two saves complete, then kill the child while the third is being written (its temporary
  // file exists between open and rename).
  char note = 0;
  for (int i = 0; i < 2; ++i) REQUIRE(::read(pipe_fds[0], &note, 1) == 1);
  const std::string tmp = path + ".tmp." + std::to_string(child);
  bool mid_write = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    std::error_code ec;  // the child may rename the file between two calls: no throwing here
    const auto size = fs::file_size(tmp, ec);
    if (!ec && size > 0) {
      mid_write = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  ::kill(child, SIGKILL);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
  ::close(pipe_fds[0]);
  CHECK(mid_write);

  // The file at the path is a whole checkpoint: the one of some completed step k (≥ 2), equal bit
  // for bit to what an uninterrupted run has after k steps.
  const nn::NamedTensors loaded = nn::load_tensors(path);
  REQUIRE(loaded.size() >= 3);
  REQUIRE(loaded[loaded.size() - 2].first == "step");
  const auto k = static_cast<std::size_t>(loaded[loaded.size() - 2].second.item());
  CHECK(k >= 2);
  TinyRun replay(seed);
  for (std::size_t i = 0; i < k; ++i)
    replay.train(1);  // as the child did: one step (one epoch start) per call
  CHECK(test::same_bits(loaded, checkpoint(replay, k, big)));
  // Module::load takes it too.
  TinyRun fresh(seed);
  nn::NamedTensors model_part(loaded.begin(), loaded.end() - 2);
  fresh.net->load_state(model_part, path);
  CHECK(test::same_bits(fresh.state(), replay.state()));

  // The interrupted write left only its temporary file, which is not a checkpoint: loading it fails
  // (truncated), and nothing takes it for one (the path still names the complete file).
  // (The kill can also land after the last byte, during fsync: then the temporary file is whole
  // but was never renamed, and the path still names the previous checkpoint, as checked above.)
  std::error_code ec;
  const auto tmp_size = fs::file_size(tmp, ec);
  if (!ec && tmp_size < fs::file_size(path)) {
    CHECK_THROWS_WITH(nn::load_tensors(tmp),
                      Catch::Contains("truncated") || Catch::Contains("not a jetgrad tensor file"));
  }
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    ++files;
    const std::string name = e.path().filename().string();
    CHECK((name == "model.ckpt" || name.rfind("model.ckpt.tmp.", 0) == 0));
  }
  CHECK(files <= 2);
  fs::remove_all(dir);
}

TEST_CASE("safe state: the same seed gives bitwise identical training runs", "[safe-state]") {
  TinyRun a(5), b(5), c(6);
  a.train(9);
  b.train(9);
  c.train(9);
  CHECK(test::same_bits(a.state(), b.state()));
  CHECK(test::same_bits(a.losses, b.losses));
  CHECK(test::same_bits(a.curvatures, b.curvatures));
  CHECK(test::same_bits(a.adam->state(), b.adam->state()));
  CHECK_FALSE(test::same_bits(a.state(), c.state()));
}
