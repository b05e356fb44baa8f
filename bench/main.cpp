// jetgrad_bench's main: Google Benchmark's usual driver plus context describing the build, so that a
// JSON result file says what it measured (SIMD instruction set, build type, -march=native or not,
// thread settings of the libraries compared against).
//
//   build/bench/jetgrad_bench --benchmark_filter=tanh --benchmark_out=tanh.json --benchmark_out_format=json
//
// Benchmark cases live in the other files of bench/ (see bench/CMakeLists.txt).
#include <cstdlib>
#include <string>

#include <benchmark/benchmark.h>

#include <xsimd/xsimd.hpp>

#ifdef JETGRAD_HAVE_TORCH
#include <ATen/Parallel.h>
#include <torch/version.h>
#endif

namespace {

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v ? v : fallback;
}

void add_context() {
  benchmark::AddCustomContext("jetgrad_version", JETGRAD_VERSION);
  benchmark::AddCustomContext("jetgrad_build_type", JETGRAD_BUILD_TYPE);
  benchmark::AddCustomContext("jetgrad_native", JETGRAD_NATIVE ? "ON (-march=native)" : "OFF (portable)");
  // The instruction set xsimd (and so xtensor's kernels) was compiled for.
  benchmark::AddCustomContext("xsimd_arch", xsimd::default_arch::name());
  benchmark::AddCustomContext("xsimd_batch_bytes", std::to_string(xsimd::default_arch::alignment()));
#ifdef __VERSION__
  benchmark::AddCustomContext("compiler", __VERSION__);
#endif
  benchmark::AddCustomContext("OPENBLAS_NUM_THREADS", env_or("OPENBLAS_NUM_THREADS", "(unset)"));
  benchmark::AddCustomContext("OPENBLAS_CORETYPE", env_or("OPENBLAS_CORETYPE", "(unset)"));
#ifdef JETGRAD_HAVE_TORCH
  // libtorch's and OpenBLAS's thread pools fight on a small machine: compare single-threaded.
  at::set_num_threads(1);
  benchmark::AddCustomContext("torch", std::string(TORCH_VERSION) + ", threads=1");
#else
  benchmark::AddCustomContext("torch", "not built");
#endif
#ifdef JETGRAD_HAVE_ADOLC
  benchmark::AddCustomContext("adolc", "linked");
#else
  benchmark::AddCustomContext("adolc", "not built");
#endif
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  add_context();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
