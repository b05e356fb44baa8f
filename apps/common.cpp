#include "apps/common.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>
#include <span>
#include <sstream>

#include <dlfcn.h>
#include <unistd.h>

#include "optim/flat.hpp"

namespace jetgrad::app {

namespace fs = std::filesystem;

namespace {

const std::vector<std::string> model_names = {"mlp", "cnn"};
const std::vector<std::string> activation_names = {"relu", "tanh", "gelu", "silu"};
const std::vector<std::string> optimizer_names = {
    "sgd", "adam", "adamw", "sam", "asam", "gam", "gam-accelerated", "gr", "fad", "perpgrad"};
const std::vector<std::string> base_names = {"sgd", "adam"};

bool one_of(const std::string& s, const std::vector<std::string>& names) {
  return std::find(names.begin(), names.end(), s) != names.end();
}

std::string list(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : "|") + n;
  return out;
}

std::string num(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

std::shared_ptr<nn::Module> activation(const std::string& name) {
  if (name == "tanh") return std::make_shared<nn::Tanh>();
  if (name == "gelu") return std::make_shared<nn::GELU>();
  if (name == "silu") return std::make_shared<nn::SiLU>();
  return std::make_shared<nn::ReLU>();
}

// (N, H, W) -> (N, 1, H, W): the channel axis a Conv2d wants.
class AddChannel : public nn::Module {
 public:
  Var forward(const Var& x) override {
    const Shape& s = x.shape();
    if (s.rank() != 3) throw ShapeError("AddChannel: expected images (N, H, W), got shape " + s.str());
    return reshape(x, Shape{s[0], 1, s[1], s[2]});
  }
  std::string describe() const override { return "AddChannel"; }
};

std::string hidden_str(const std::vector<std::size_t>& h) {
  std::string out;
  for (std::size_t v : h) out += (out.empty() ? "" : ",") + std::to_string(v);
  return out;
}

volatile std::sig_atomic_t interrupt_flag = 0;
extern "C" void on_sigint(int) {
  interrupt_flag = 1;
  std::signal(SIGINT,
              SIG_DFL);  // a second Ctrl-C ends the program at once (files stay whole: writes are atomic)
}

}  // namespace

// ---- configuration ------------------------------------------------------------------------------------

void RunConfig::resolve_and_check() {
  const auto bad = [](const std::string& what) { throw UsageError(what); };
  if (!one_of(model, model_names)) bad("--model: expected " + list(model_names) + ", got '" + model + "'");
  if (hidden.empty())
    hidden = model == "cnn" ? std::vector<std::size_t>{8, 16} : std::vector<std::size_t>{128};
  for (std::size_t h : hidden) {
    if (h == 0 || h > 100000) {
      bad("--hidden: every layer size must be between 1 and 100000, got " + hidden_str(hidden));
    }
  }
  if (model == "cnn" && hidden.size() > 4) {
    bad("--hidden: a cnn has one conv block per entry, each halving the image; at most 4 fit 28x28 images, "
        "got " +
        std::to_string(hidden.size()));
  }
  if (!one_of(activation, activation_names))
    bad("--activation: expected " + list(activation_names) + ", got '" + activation + "'");
  if (!one_of(optimizer, optimizer_names))
    bad("--optimizer: expected " + list(optimizer_names) + ", got '" + optimizer + "'");
  if (!one_of(base, base_names)) bad("--base: expected " + list(base_names) + ", got '" + base + "'");
  if (optimizer == "sgd" || optimizer == "adam") base = optimizer;
  if (optimizer == "adamw") base = "adam";
  if (lr == 0.0) lr = base == "adam" ? 1e-3 : 0.05;
  if (!(lr > 0.0) || !std::isfinite(lr)) bad("--lr: must be a positive number, got " + num(lr));
  if (!(momentum >= 0.0 && momentum < 1.0)) bad("--momentum: must be in [0, 1), got " + num(momentum));
  if (!(weight_decay >= 0.0)) bad("--weight-decay: must be >= 0, got " + num(weight_decay));
  if (rho == 0.0) {
    if (optimizer == "asam")
      rho = 0.5;
    else if (optimizer == "gam" || optimizer == "gam-accelerated")
      rho = 0.2;
    else
      rho = 0.05;
  }
  if (!(rho > 0.0) || !std::isfinite(rho)) bad("--rho: must be a positive number, got " + num(rho));
  if (alpha == 0.0) alpha = optimizer == "fad" ? 1.0 : 0.6;
  if (!(alpha >= 0.0)) bad("--alpha: must be >= 0, got " + num(alpha));
  if (!(beta >= 0.0)) bad("--beta: must be >= 0, got " + num(beta));
  if (!(gamma >= 0.0)) bad("--gamma: must be >= 0, got " + num(gamma));
  if (schedule != "constant" && schedule != "cosine")
    bad("--schedule: expected constant|cosine, got '" + schedule + "'");
  if (epochs == 0 || epochs > 1000000)
    bad("--epochs: must be between 1 and 1000000, got " + std::to_string(epochs));
  if (batch_size == 0) bad("--batch-size: must be at least 1");
  if (dtype != "float32" && dtype != "float64") bad("--dtype: expected float32|float64, got '" + dtype + "'");
  if (threads < 0) bad("--threads: must be >= 0, got " + std::to_string(threads));
  if (curvature_batch == 0) bad("--curvature-batch: must be at least 1");
  if (lanczos_steps == 0) bad("--lanczos-steps: must be at least 1");
  if (trace_samples < 2) bad("--trace-samples: must be at least 2, got " + std::to_string(trace_samples));
  if (flatness_steps == 0) bad("--flatness-steps: must be at least 1");
  if (!(flatness_rho > 0.0)) bad("--flatness-rho: must be positive, got " + num(flatness_rho));
}

json RunConfig::to_json() const {
  return json{{"model", model},
              {"hidden", hidden},
              {"activation", activation},
              {"data", data},
              {"test_data", test_data},
              {"label_column", label_column},
              {"limit_train", limit_train},
              {"limit_test", limit_test},
              {"optimizer", optimizer},
              {"base", base},
              {"lr", lr},
              {"momentum", momentum},
              {"weight_decay", weight_decay},
              {"rho", rho},
              {"alpha", alpha},
              {"beta", beta},
              {"gamma", gamma},
              {"schedule", schedule},
              {"epochs", epochs},
              {"batch_size", batch_size},
              {"seed", seed},
              {"dtype", dtype},
              {"threads", threads},
              {"curvature_every", curvature_every},
              {"curvature_batch", curvature_batch},
              {"lanczos_steps", lanczos_steps},
              {"trace_samples", trace_samples},
              {"flatness_steps", flatness_steps},
              {"flatness_rho", flatness_rho}};
}

RunConfig RunConfig::from_json(const json& j, const std::string& source) {
  RunConfig c;
  if (!j.is_object()) throw Error(source + ": expected a JSON object with the run's configuration");
  try {
    const auto get = [&](const char* key, auto& field) {
      if (j.contains(key)) field = j.at(key).get<std::decay_t<decltype(field)>>();
    };
    get("model", c.model);
    get("hidden", c.hidden);
    get("activation", c.activation);
    get("data", c.data);
    get("test_data", c.test_data);
    get("label_column", c.label_column);
    get("limit_train", c.limit_train);
    get("limit_test", c.limit_test);
    get("optimizer", c.optimizer);
    get("base", c.base);
    get("lr", c.lr);
    get("momentum", c.momentum);
    get("weight_decay", c.weight_decay);
    get("rho", c.rho);
    get("alpha", c.alpha);
    get("beta", c.beta);
    get("gamma", c.gamma);
    get("schedule", c.schedule);
    get("epochs", c.epochs);
    get("batch_size", c.batch_size);
    get("seed", c.seed);
    get("dtype", c.dtype);
    get("threads", c.threads);
    get("curvature_every", c.curvature_every);
    get("curvature_batch", c.curvature_batch);
    get("lanczos_steps", c.lanczos_steps);
    get("trace_samples", c.trace_samples);
    get("flatness_steps", c.flatness_steps);
    get("flatness_rho", c.flatness_rho);
  } catch (const nlohmann::json::exception& e) {
    throw Error(source + ": a configuration value has the wrong type (" + e.what() + ")");
  }
  try {
    c.resolve_and_check();
  } catch (const UsageError& e) {
    throw Error(source + ": " + e.what());
  }
  return c;
}

void add_model_flags(CLI::App& app, RunConfig& c) {
  app.add_option("--model", c.model, "model: mlp (fully connected) or cnn (conv blocks)")
      ->check(CLI::IsMember(model_names))
      ->capture_default_str();
  app.add_option("--hidden", c.hidden,
                 "layer sizes, comma-separated: mlp hidden widths (default 128), cnn channels per conv block "
                 "(default 8,16)")
      ->delimiter(',');
  app.add_option("--activation", c.activation, "activation between layers")
      ->check(CLI::IsMember(activation_names))
      ->capture_default_str();
  app.add_option("--dtype", c.dtype, "element type of the model and data")
      ->check(CLI::IsMember({"float32", "float64"}))
      ->capture_default_str();
}

void add_data_flags(CLI::App& app, RunConfig& c) {
  app.add_option("--data", c.data,
                 "embedded (the shipped 6,000/1,000-image Fashion-MNIST subset), fashion-mnist (the full set "
                 "in " +
                     std::string(nn::default_fashion_mnist_dir) +
                     "), a directory of IDX files "
                     "({train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]) or a CSV file")
      ->capture_default_str();
  app.add_option("--test-data", c.test_data,
                 "CSV data only: the test file (default: the last 10% of --data)");
  app.add_option("--label-column", c.label_column,
                 "CSV data only: the label's column (negative: from the end)")
      ->capture_default_str();
  app.add_option("--limit-train", c.limit_train, "use only this many training samples (0: all)")
      ->capture_default_str();
  app.add_option("--limit-test", c.limit_test, "use only this many test samples (0: all)")
      ->capture_default_str();
}

void add_training_flags(CLI::App& app, RunConfig& c) {
  app.add_option("--optimizer", c.optimizer, "optimizer")
      ->check(CLI::IsMember(optimizer_names))
      ->capture_default_str();
  app.add_option("--base", c.base, "base optimizer under sam/asam/gam/gr/fad/perpgrad")
      ->check(CLI::IsMember(base_names))
      ->capture_default_str();
  app.add_option("--lr", c.lr, "learning rate (default: 0.05 for sgd, 0.001 for adam)");
  app.add_option("--momentum", c.momentum, "sgd momentum")->capture_default_str();
  app.add_option("--weight-decay", c.weight_decay, "weight decay")->capture_default_str();
  app.add_option("--rho", c.rho, "perturbation radius (default: sam 0.05, asam 0.5, gam 0.2, fad 0.05)");
  app.add_option("--alpha", c.alpha, "gam: weight of the flatness gradient (0.6); fad: weight of R0 (1.0)");
  app.add_option("--beta", c.beta, "fad: weight of R1")->capture_default_str();
  app.add_option("--gamma", c.gamma, "gr: gradient-norm penalty")->capture_default_str();
  app.add_option("--schedule", c.schedule,
                 "learning-rate schedule (cosine: from --lr down to 0 over all the --epochs)")
      ->check(CLI::IsMember({"constant", "cosine"}))
      ->capture_default_str();
  app.add_option("--epochs", c.epochs, "epochs (with --resume: the total to reach)")->capture_default_str();
  app.add_option("--batch-size", c.batch_size, "mini-batch size")->capture_default_str();
  app.add_option("--seed", c.seed, "seed of every random choice (weights, batch order, estimators)")
      ->capture_default_str();
  app.add_option(
         "--threads", c.threads,
         "OpenBLAS threads (0: the library's default). Results are reproducible for a given thread count; "
         "1 gives the same numbers on every machine")
      ->capture_default_str();
}

void add_curvature_flags(CLI::App& app, RunConfig& c) {
  app.add_option("--curvature-every", c.curvature_every, "curvature metrics every N epochs (0: never)")
      ->capture_default_str();
  app.add_option("--curvature-batch", c.curvature_batch, "size of the fixed batch of the curvature metrics")
      ->capture_default_str();
  app.add_option("--lanczos-steps", c.lanczos_steps, "Lanczos steps (HVPs) for the top eigenvalue")
      ->capture_default_str();
  app.add_option("--trace-samples", c.trace_samples, "Hutchinson samples (HVPs) for the trace")
      ->capture_default_str();
  app.add_option("--flatness-steps", c.flatness_steps, "projected-ascent steps of the first-order flatness")
      ->capture_default_str();
  app.add_option("--flatness-rho", c.flatness_rho, "radius of the first-order flatness")
      ->capture_default_str();
}

// ---- data -----------------------------------------------------------------------------------------

Tensor rows(const Tensor& t, std::size_t start, std::size_t stop) {
  return slice(t, 0, static_cast<std::ptrdiff_t>(start), static_cast<std::ptrdiff_t>(stop));
}

nn::Batch take(const nn::Dataset& d, const std::vector<std::size_t>& indices) {
  nn::Batch b;
  b.x = gather(d.inputs, indices, 0);
  for (std::size_t i : indices) b.y.push_back(d.labels[i]);
  return b;
}

namespace {

nn::Dataset subset(const nn::Dataset& d, std::size_t n) {
  if (n == 0 || n >= d.size()) return d;
  // Evenly spaced samples: the shipped files are grouped by class, so the first n would not be.
  std::vector<std::size_t> idx(n);
  for (std::size_t i = 0; i < n; ++i) idx[i] = i * d.size() / n;
  nn::Batch b = take(d, idx);
  nn::Dataset out;
  out.inputs = std::move(b.x);
  out.labels = std::move(b.y);
  out.num_classes = d.num_classes;
  out.name = d.name + " (" + std::to_string(n) + " samples)";
  return out;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Data load_data(const RunConfig& c) {
  Data out;
  if (c.data == "embedded") {
    out.train = nn::embedded_dataset(true);
    out.test = nn::embedded_dataset(false);
    out.description = "embedded Fashion-MNIST subset";
  } else if (c.data == "fashion-mnist" || (fs::is_directory(c.data))) {
    const std::string dir = c.data == "fashion-mnist" ? std::string(nn::default_fashion_mnist_dir) : c.data;
    if (!fs::is_directory(dir)) {
      throw Error("--data fashion-mnist: " + dir +
                  " does not exist (install the Debian package dataset-fashion-mnist)");
    }
    out.train = nn::fashion_mnist(dir, true);
    out.test = nn::fashion_mnist(dir, false);
    out.description = "IDX data in " + dir;
  } else if (fs::is_regular_file(c.data)) {
    if (!ends_with(c.data, ".csv") && !ends_with(c.data, ".CSV")) {
      throw Error("--data: " + c.data + " is a file but not a .csv file (give a directory for IDX files)");
    }
    nn::Dataset all = nn::read_csv(c.data, c.label_column);
    if (!c.test_data.empty()) {
      out.train = std::move(all);
      out.test = nn::read_csv(c.test_data, c.label_column);
      out.test.num_classes = out.train.num_classes = std::max(out.train.num_classes, out.test.num_classes);
      if (!(out.test.inputs.shape()[1] == out.train.inputs.shape()[1])) {
        throw Error("--test-data: " + c.test_data + " has " + std::to_string(out.test.inputs.shape()[1]) +
                    " feature columns, the training file " + std::to_string(out.train.inputs.shape()[1]));
      }
    } else {
      const std::size_t n = all.size(), n_test = std::max<std::size_t>(1, n / 10);
      if (n < 2)
        throw Error("--data: " + c.data + " has " + std::to_string(n) + " sample(s); at least 2 are needed");
      out.train.inputs = rows(all.inputs, 0, n - n_test);
      out.train.labels.assign(all.labels.begin(), all.labels.end() - static_cast<std::ptrdiff_t>(n_test));
      out.test.inputs = rows(all.inputs, n - n_test, n);
      out.test.labels.assign(all.labels.end() - static_cast<std::ptrdiff_t>(n_test), all.labels.end());
      out.train.num_classes = out.test.num_classes = all.num_classes;
      out.train.name = all.name + " (train)";
      out.test.name = all.name + " (last 10%, test)";
    }
    out.description = "CSV " + c.data;
  } else {
    throw Error("--data: '" + c.data +
                "' is neither embedded, fashion-mnist, a directory of IDX files nor a CSV file " +
                "(no such file or directory)");
  }
  out.train = subset(out.train, c.limit_train);
  out.test = subset(out.test, c.limit_test);
  const DType dt = c.element_type();
  if (out.train.inputs.dtype() != dt) out.train.inputs = out.train.inputs.to(dt);
  if (out.test.inputs.dtype() != dt) out.test.inputs = out.test.inputs.to(dt);
  out.train.check();
  out.test.check();
  if (out.train.size() == 0) throw Error("--data: no training samples");
  return out;
}

// ---- model ----------------------------------------------------------------------------------------

std::shared_ptr<nn::Sequential> build_model(const RunConfig& c, const Shape& sample_shape,
                                            std::size_t classes, Generator& gen) {
  const DType dt = c.element_type();
  auto model = std::make_shared<nn::Sequential>();
  if (c.model == "mlp") {
    std::size_t in = sample_shape.numel();
    if (sample_shape.rank() != 1) model->push_back(std::make_shared<nn::Flatten>(1, -1));
    for (std::size_t h : c.hidden) {
      model->push_back(std::make_shared<nn::Linear>(in, h, gen, true, dt));
      model->push_back(activation(c.activation));
      in = h;
    }
    model->push_back(std::make_shared<nn::Linear>(in, classes, gen, true, dt));
    return model;
  }
  // cnn
  std::size_t channels = 0, H = 0, W = 0;
  if (sample_shape.rank() == 2) {
    model->push_back(std::make_shared<AddChannel>());
    channels = 1, H = sample_shape[0], W = sample_shape[1];
  } else if (sample_shape.rank() == 3) {
    channels = sample_shape[0], H = sample_shape[1], W = sample_shape[2];
  } else {
    throw UsageError(
        "--model cnn: needs image data (samples of shape (H, W) or (C, H, W)), got samples of shape " +
        sample_shape.str() + " (use --model mlp for tabular data)");
  }
  for (std::size_t i = 0; i < c.hidden.size(); ++i) {
    nn::Conv2dOptions opt;
    opt.padding = nn::Size2(1);
    opt.dtype = dt;
    model->push_back(std::make_shared<nn::Conv2d>(channels, c.hidden[i], nn::Size2(3), gen, opt));
    model->push_back(activation(c.activation));
    model->push_back(std::make_shared<nn::MaxPool2d>(nn::Size2(2)));
    channels = c.hidden[i];
    H /= 2, W /= 2;
    if (H == 0 || W == 0) {
      throw UsageError("--hidden: " + std::to_string(c.hidden.size()) + " conv blocks halve " +
                       std::to_string(sample_shape[sample_shape.rank() - 2]) + "x" +
                       std::to_string(sample_shape[sample_shape.rank() - 1]) +
                       " images to nothing; use at most " + std::to_string(i) + " entries");
    }
  }
  model->push_back(std::make_shared<nn::Flatten>(1, -1));
  model->push_back(std::make_shared<nn::Linear>(channels * H * W, classes, gen, true, dt));
  return model;
}

std::string describe_model(const RunConfig& c) {
  std::string s = c.model + " " + hidden_str(c.hidden) + " " + c.activation + " " + c.dtype;
  return s;
}

// ---- optimizer ------------------------------------------------------------------------------------

std::unique_ptr<optim::Optimizer> build_optimizer(const RunConfig& c, const optim::ParamList& params) {
  const auto base = [&]() -> std::unique_ptr<optim::Optimizer> {
    if (c.optimizer == "adamw")
      return optim::make_adamw(params, {.lr = c.lr, .weight_decay = c.weight_decay});
    if (c.base == "adam")
      return std::make_unique<optim::Adam>(params,
                                           optim::AdamOptions{.lr = c.lr, .weight_decay = c.weight_decay});
    return std::make_unique<optim::SGD>(
        params, optim::SGDOptions{.lr = c.lr, .momentum = c.momentum, .weight_decay = c.weight_decay});
  };
  const std::string& o = c.optimizer;
  if (o == "sgd" || o == "adam" || o == "adamw") return base();
  if (o == "sam" || o == "asam") {
    return std::make_unique<optim::SAM>(base(), optim::SAMOptions{.rho = c.rho, .adaptive = o == "asam"});
  }
  if (o == "gam" || o == "gam-accelerated") {
    optim::GAMOptions g;
    g.method = o == "gam" ? optim::GAMOptions::Method::exact : optim::GAMOptions::Method::accelerated;
    g.rho = c.rho;
    g.alpha = c.alpha;
    return std::make_unique<optim::GAM>(base(), g);
  }
  if (o == "gr")
    return std::make_unique<optim::GradientRegularization>(base(), optim::GradRegOptions{.gamma = c.gamma});
  if (o == "fad") {
    return std::make_unique<optim::FAD>(base(),
                                        optim::FADOptions{.rho = c.rho, .alpha = c.alpha, .beta = c.beta});
  }
  if (o == "perpgrad") return std::make_unique<optim::PerpGrad>(base(), optim::PerpGradOptions{});
  throw UsageError("--optimizer: unknown optimizer '" + o + "'");
}

// ---- seeds ----------------------------------------------------------------------------------------

std::uint64_t derive_seed(std::uint64_t seed, Stream stream, std::uint64_t epoch) {
  // splitmix64 over the three numbers: well-mixed, fully specified, platform-independent.
  const auto mix = [](std::uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  return mix(mix(mix(seed) ^ static_cast<std::uint64_t>(stream)) ^ epoch);
}

// ---- evaluation -------------------------------------------------------------------------------------

Evaluation evaluate(nn::Module& model, const nn::Dataset& d, std::size_t chunk) {
  model.eval();
  NoGrad no_grad;
  double loss_sum = 0.0;
  std::size_t correct = 0;
  for (std::size_t start = 0; start < d.size(); start += chunk) {
    const std::size_t stop = std::min(d.size(), start + chunk);
    Tape tape;
    const Var logits = model(tape.constant(rows(d.inputs, start, stop)));
    const std::span<const std::size_t> labels(d.labels.data() + start, stop - start);
    loss_sum += nn::cross_entropy(logits, labels).item() * static_cast<double>(stop - start);
    const Tensor predicted = argmax(logits.value(), 1);
    for (std::size_t i = 0; i < labels.size(); ++i)
      correct += predicted.at(i) == static_cast<double>(labels[i]);
  }
  model.train();
  const double n = static_cast<double>(std::max<std::size_t>(d.size(), 1));
  return {loss_sum / n, static_cast<double>(correct) / n};
}

nn::Batch fixed_batch(const nn::Dataset& d, std::size_t n, std::uint64_t seed) {
  n = std::min(n, d.size());
  std::vector<std::size_t> order(d.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  Generator gen(derive_seed(seed, Stream::fixed_batch));
  for (std::size_t i = 0; i < n; ++i) std::swap(order[i], order[i + gen.below(d.size() - i)]);
  order.resize(n);
  return take(d, order);
}

// ---- checkpoints ------------------------------------------------------------------------------------

void save_checkpoint(const std::string& path, nn::Module& model, const optim::Optimizer* opt,
                     std::size_t epoch) {
  nn::NamedTensors all;
  for (auto& [name, t] : model.state()) all.emplace_back("model." + name, std::move(t));
  if (opt) {
    for (auto& [name, t] : opt->state()) all.emplace_back("optim." + name, std::move(t));
  }
  all.emplace_back("meta.epoch", Tensor(static_cast<double>(epoch)));
  nn::save_tensors(path, all);
}

std::size_t load_checkpoint(const std::string& path, nn::Module& model, optim::Optimizer* opt) {
  if (!file_exists(path)) throw Error("checkpoint " + path + " does not exist");
  const nn::NamedTensors all = nn::load_tensors(path);  // checks magic, sizes and checksum
  nn::NamedTensors model_part, optim_part;
  double epoch = -1.0;
  for (const auto& [name, t] : all) {
    if (name.rfind("model.", 0) == 0)
      model_part.emplace_back(name.substr(6), t);
    else if (name.rfind("optim.", 0) == 0)
      optim_part.emplace_back(name.substr(6), t);
    else if (name == "meta.epoch" && t.numel() == 1)
      epoch = t.item();
  }
  if (epoch < 0.0) throw Error(path + ": not a jetgrad training checkpoint (it has no meta.epoch entry)");
  const std::size_t expected = model.state().size();
  try {
    if (model_part.size() != expected) {
      throw Error("it holds " + std::to_string(model_part.size()) + " model tensors, this model has " +
                  std::to_string(expected));
    }
    model.load_state(model_part, path);
  } catch (const Error& e) {
    throw Error(path + " is a checkpoint of another model: " + e.what());
  }
  if (opt) {
    try {
      opt->load_state(optim_part);
    } catch (const Error& e) {
      throw Error(path + ": the optimizer state does not fit: " + e.what());
    }
  }
  return static_cast<std::size_t>(epoch);
}

// ---- files --------------------------------------------------------------------------------------------

std::string join_path(const std::string& dir, const std::string& name) {
  return (fs::path(dir) / name).string();
}

void make_dirs(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) throw Error("cannot create the directory " + dir + ": " + ec.message());
}

bool file_exists(const std::string& path) { return fs::is_regular_file(path); }

json read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot open " + path);
  try {
    return json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + " is not valid JSON: " + e.what());
  }
}

void write_text(const std::string& path, const std::string& text) { nn::write_file_atomically(path, text); }

// ---- Ctrl-C, threads ------------------------------------------------------------------------------------

void install_interrupt_handler() { std::signal(SIGINT, on_sigint); }
bool interrupted() { return interrupt_flag != 0; }

void set_blas_threads(int n) {
  if (n <= 0) return;
  using SetThreads = void (*)(int);
  if (void* sym = dlsym(RTLD_DEFAULT, "openblas_set_num_threads")) {
    reinterpret_cast<SetThreads>(sym)(n);
  } else {
    std::fprintf(stderr, "jetgrad: warning: --threads has no effect (the BLAS library is not OpenBLAS)\n");
  }
}

// ---- progress -----------------------------------------------------------------------------------------

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string format_seconds(double s) {
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%.0fs", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  else
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s) / 3600, (static_cast<int>(s) / 60) % 60);
  return buf;
}

Progress::Progress(std::string label, std::size_t total, bool enabled)
    : label_(std::move(label)),
      total_(total),
      enabled_(enabled && isatty(STDERR_FILENO)),
      start_(now_seconds()) {}

void Progress::update(std::size_t done, double loss) {
  if (!enabled_ || total_ == 0) return;
  const double elapsed = now_seconds() - start_;
  const double eta =
      done > 0 ? elapsed * static_cast<double>(total_ - done) / static_cast<double>(done) : 0.0;
  constexpr int width = 24;
  const int filled = static_cast<int>(width * done / total_);
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.resize(width, '.');
  std::fprintf(stderr, "\r%s [%s] %zu/%zu loss %.4f ETA %s   ", label_.c_str(), bar.c_str(), done, total_,
               loss, format_seconds(eta).c_str());
  std::fflush(stderr);
}

void Progress::finish() {
  if (!enabled_) return;
  std::fprintf(stderr, "\r%*s\r", 80 + static_cast<int>(label_.size()), "");
  std::fflush(stderr);
}

}  // namespace jetgrad::app
