// Helpers every benchmark file shares: skipping a case whose validation failed, and the thread-CPU
// timing behind the ratio counters. Includes neither jetgrad nor an anchor library, so the ADOL-C
// and libtorch translation units use it too.
#pragma once

#include <algorithm>
#include <ctime>
#include <string>

#include <benchmark/benchmark.h>

namespace bench_support {

// Marks the benchmark skipped when its validation reported `error`; true when it did.
inline bool skip_unvalidated(benchmark::State& state, const std::string& error) {
  if (error.empty()) return false;
  state.SkipWithError(("validation failed, not timed: " + error).c_str());
  return true;
}

inline double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Thread CPU seconds per call of f (best of 3 rounds of >= 5 ms each): the ratio counters'
// denominators. CPU time, like the counters' numerator (Google Benchmark forms rates from CPU time).
template <class F>
double seconds_per_call(F&& f) {
  double best = 1e300;
  for (int round = 0; round < 3; ++round) {
    std::size_t calls = 0;
    const double t0 = thread_cpu_seconds();
    double elapsed = 0.0;
    do {
      f();
      ++calls;
      elapsed = thread_cpu_seconds() - t0;
    } while (elapsed < 5e-3);
    best = std::min(best, elapsed / static_cast<double>(calls));
  }
  return best;
}

// Counter = (time per iteration) / denominator_seconds.
inline benchmark::Counter ratio_to(double denominator_seconds) {
  return benchmark::Counter(denominator_seconds,
                            benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

}  // namespace bench_support
