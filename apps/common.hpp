// What the sub-commands of `jetgrad` share: the run configuration (and its JSON form), data loading,
// model and optimizer construction, seeds, checkpoints, the Ctrl-C flag and the progress bar.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "autodiff/autodiff.hpp"
#include "nn/nn.hpp"
#include "optim/optimizer.hpp"

namespace jetgrad::app {

using json = nlohmann::ordered_json;

// A bad command-line value found after parsing (exit status 2, like CLI11's own errors).
struct UsageError : Error {
  using Error::Error;
};

// Everything that defines a training run. Written to <out>/config.json and metrics.json["config"];
// `--resume` reads it back, so a resumed run is the same run.
struct RunConfig {
  // model
  std::string model = "mlp";                // mlp | cnn
  std::vector<std::size_t> hidden = {128};  // mlp: hidden widths; cnn: channels of each conv block
  std::string activation = "relu";          // relu | tanh | gelu | silu
  // data
  std::string data = "embedded";                // embedded | fashion-mnist | <IDX dir> | <file.csv>
  std::string test_data;                        // CSV only: the test file (default: last 10% of --data)
  int label_column = -1;                        // CSV only
  std::size_t limit_train = 0, limit_test = 0;  // 0: all samples
  // optimizer
  std::string optimizer = "sgd";  // sgd adam adamw sam asam gam gam-accelerated gr fad perpgrad
  std::string base = "sgd";       // base of the wrappers: sgd | adam
  double lr = 0.0;                // 0: the default of the base (sgd 0.05, adam 1e-3)
  double momentum = 0.9;
  double weight_decay = 0.0;
  double rho = 0.0;                 // 0: the method's default (sam 0.05, gam 0.2, fad 0.05)
  double alpha = 0.0;               // gam / fad; 0: default
  double beta = 0.5;                // fad
  double gamma = 0.01;              // gr
  std::string schedule = "cosine";  // constant | cosine (to 0 over all the epochs)
  // loop
  std::size_t epochs = 10;
  std::size_t batch_size = 64;
  std::uint64_t seed = 0;
  std::string dtype = "float32";  // float32 | float64
  int threads = 1;                // OpenBLAS threads; 0: the library default (1: same numbers on any machine)
  // curvature on a fixed batch, every `curvature_every` epochs (0: never)
  std::size_t curvature_every = 1;
  std::size_t curvature_batch = 256;
  std::size_t lanczos_steps = 20;
  std::size_t trace_samples = 20;
  std::size_t flatness_steps = 3;
  double flatness_rho = 0.05;

  DType element_type() const { return dtype == "float64" ? DType::f64 : DType::f32; }
  // Fills the defaults that depend on other fields (lr, rho, alpha) and checks every value;
  // throws UsageError naming the bad one.
  void resolve_and_check();
  json to_json() const;
  static RunConfig from_json(const json& j, const std::string& source);
};

// Registers the flags of RunConfig on a CLI11 (sub)command. `model_only` keeps just the model
// and data flags (for `curvature`, which reads the rest from the run).
void add_model_flags(CLI::App& app, RunConfig& c);
void add_data_flags(CLI::App& app, RunConfig& c);
void add_training_flags(CLI::App& app, RunConfig& c);
void add_curvature_flags(CLI::App& app, RunConfig& c);

// ---- data -----------------------------------------------------------------------------------------
struct Data {
  nn::Dataset train, test;
  std::string description;
};
// Loads what c.data names (converted to c.dtype, limited to c.limit_*).
Data load_data(const RunConfig& c);
// Rows [start, stop) of a tensor along its first axis.
Tensor rows(const Tensor& t, std::size_t start, std::size_t stop);
// The inputs and labels of the given sample indices.
nn::Batch take(const nn::Dataset& d, const std::vector<std::size_t>& indices);

// ---- model ----------------------------------------------------------------------------------------
// mlp: Flatten, [Linear, activation] per hidden width, Linear to the classes.
// cnn: per entry of `hidden` a block Conv2d(3x3, padding 1), activation, MaxPool2d(2); then Flatten
//      and Linear to the classes. Needs image inputs (N, H, W).
std::shared_ptr<nn::Sequential> build_model(const RunConfig& c, const Shape& sample_shape,
                                            std::size_t classes, Generator& gen);
std::string describe_model(const RunConfig& c);

// ---- optimizer ------------------------------------------------------------------------------------
std::unique_ptr<optim::Optimizer> build_optimizer(const RunConfig& c, const optim::ParamList& params);

// ---- seeds ----------------------------------------------------------------------------------------
// Every random stream of a run is a pure function of (seed, stream, epoch): a resumed run draws
// exactly what the uninterrupted one did, with no generator state to save.
enum class Stream : std::uint64_t { init = 1, shuffle = 2, curvature = 3, fixed_batch = 4, landscape = 5 };
std::uint64_t derive_seed(std::uint64_t seed, Stream stream, std::uint64_t epoch = 0);

// ---- evaluation -------------------------------------------------------------------------------------
struct Evaluation {
  double loss = 0.0, accuracy = 0.0;
};
// Loss and accuracy over d, in chunks of `chunk` images: a CNN's im2col on 1,000 images at once
// (16,32 channels: ~0.5 GB of tape) outgrew the buffer cache, and a third of a training run's time
// went to the kernel faulting pages in and out.
Evaluation evaluate(nn::Module& model, const nn::Dataset& d, std::size_t chunk = 256);

// The fixed batch the curvature metrics use: `n` samples of `d` picked by the run's seed.
nn::Batch fixed_batch(const nn::Dataset& d, std::size_t n, std::uint64_t seed);

// ---- checkpoints ------------------------------------------------------------------------------------
// One file (nn::save_tensors, atomic): "model.<name>" for every parameter and buffer,
// "optim.<name>" for the optimizer state, "meta.epoch" (epochs completed).
void save_checkpoint(const std::string& path, nn::Module& model, const optim::Optimizer* opt,
                     std::size_t epoch);
// Loads into `model` (and `opt` when given); returns the epoch. Throws Error with a clear message for
// a missing or corrupt file or a checkpoint of another model.
std::size_t load_checkpoint(const std::string& path, nn::Module& model, optim::Optimizer* opt);

// ---- files --------------------------------------------------------------------------------------------
std::string join_path(const std::string& dir, const std::string& name);
void make_dirs(const std::string& dir);
bool file_exists(const std::string& path);
json read_json_file(const std::string& path);
void write_text(const std::string& path, const std::string& text);  // atomic

// ---- Ctrl-C -------------------------------------------------------------------------------------------
// Installs a SIGINT handler that only sets a flag (a second Ctrl-C ends the program at once).
void install_interrupt_handler();
bool interrupted();
struct Interrupted : Error {
  using Error::Error;
};

// OpenBLAS threads (through the library's own entry point when it is linked).
void set_blas_threads(int n);

// ---- progress bar (stderr, only on a terminal) -------------------------------------------------------
class Progress {
 public:
  Progress(std::string label, std::size_t total, bool enabled);
  void update(std::size_t done, double loss);
  void finish();

 private:
  std::string label_;
  std::size_t total_;
  bool enabled_;
  double start_;
};
double now_seconds();
std::string format_seconds(double s);

}  // namespace jetgrad::app
