// The training loop shared by `jetgrad train` and `jetgrad compare`.
#pragma once

#include <string>
#include <vector>

#include "apps/common.hpp"
#include "apps/metrics.hpp"

namespace jetgrad::app {

struct TrainOptions {
  std::string out_dir;
  bool resume = false;   // continue from <out_dir>/checkpoint.jgt and metrics.json
  std::string label;     // printed before each epoch line ("sgd", ...); empty: none
  bool progress = true;  // the progress bar (only drawn on a terminal)
};

struct TrainResult {
  std::vector<EpochMetrics> epochs;
  bool interrupted = false;
  std::size_t parameters = 0;
};

// Trains c on data, writing after every epoch: metrics.json, metrics.csv, checkpoint.jgt and the
// plots (loss.svg, accuracy.svg, curvature.svg), each atomically, metrics before the checkpoint.
// On Ctrl-C the epoch in progress is abandoned and nothing is written for it.
TrainResult train_run(const RunConfig& c, const Data& data, const TrainOptions& o);

// Reads the run configuration saved in a run directory.
RunConfig read_run_config(const std::string& dir);
// The sample shape of a data set (its inputs' shape without the first axis).
Shape sample_shape(const nn::Dataset& d);
std::size_t class_count(const Data& d);

// The three plots of one run.
void write_run_plots(const std::string& dir, const std::string& title,
                     const std::vector<EpochMetrics>& epochs);

// A directory name for the output: `given` if not empty, else the first of base, base-2, base-3, ...
// that does not exist yet.
std::string output_dir(const std::string& given, const std::string& base);
// Throws unless `dir` holds no run yet (or force is set).
void check_fresh(const std::string& dir, bool force);

// The epoch line printed after each epoch.
std::string epoch_line(const EpochMetrics& m, std::size_t epochs);

// Registers `jetgrad train`; `run` is set to its action.
CLI::App* add_train_command(CLI::App& root, std::function<int()>& run);

}  // namespace jetgrad::app
