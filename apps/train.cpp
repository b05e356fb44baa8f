#include "apps/train.hpp"

#include <cstdio>
#include <filesystem>

#include "apps/plot.hpp"
#include "optim/curvature.hpp"
#include "optim/schedule.hpp"

namespace jetgrad::app {

namespace {

json run_info(const RunConfig& c, const Data& data, std::size_t parameters) {
  json j = c.to_json();
  j["parameters"] = parameters;
  j["train_samples"] = data.train.size();
  j["test_samples"] = data.test.size();
  j["classes"] = class_count(data);
  return j;
}

void curvature_metrics(const RunConfig& c, nn::Module& model, const optim::ParamList& params,
                       const nn::Batch& fixed, std::size_t epoch, EpochMetrics& m) {
  optim::Objective obj(params,
                       [&](Tape& t) { return nn::cross_entropy(model(t.constant(fixed.x)), fixed.y); });
  m.grad_norm = optim::norm(obj.gradient());
  Generator gen(derive_seed(c.seed, Stream::curvature, epoch));
  const optim::ParamVector theta = obj.values();
  const std::size_t dim = optim::numel(theta);
  m.hessian_top_eigenvalue = optim::top_eigenvalues(optim::hvp_of(obj), theta, gen,
                                                    {.k = 1, .steps = std::min(c.lanczos_steps, dim)})[0]
                                 .value;
  if (interrupted()) return;
  m.hessian_trace =
      optim::hutchinson_trace(optim::hvp_of(obj), theta, gen, {.samples = c.trace_samples}).mean;
  if (interrupted()) return;
  m.first_order_flatness =
      optim::first_order_flatness(obj, gen, {.rho = c.flatness_rho, .steps = c.flatness_steps}).value;
}

}  // namespace

Shape sample_shape(const nn::Dataset& d) {
  Shape s;
  for (int i = 1; i < d.inputs.rank(); ++i) s.push_back(d.inputs.shape()[i]);
  return s;
}

std::size_t class_count(const Data& d) { return std::max(d.train.num_classes, d.test.num_classes); }

RunConfig read_run_config(const std::string& dir) {
  const std::string path = join_path(dir, "config.json");
  if (!file_exists(path)) {
    throw Error(dir +
                " does not hold a jetgrad run (no config.json; runs are made by jetgrad train --out DIR)");
  }
  return RunConfig::from_json(read_json_file(path), path);
}

std::string output_dir(const std::string& given, const std::string& base) {
  if (!given.empty()) return given;
  for (int i = 1;; ++i) {
    const std::string candidate = i == 1 ? base : base + "-" + std::to_string(i);
    if (!std::filesystem::exists(candidate)) return candidate;
  }
}

void check_fresh(const std::string& dir, bool force) {
  if (force) return;
  for (const char* f : {"checkpoint.jgt", "metrics.json", "config.json"}) {
    if (std::filesystem::exists(join_path(dir, f))) {
      throw UsageError(dir + " already holds a run (" + f + "); continue it with --resume " + dir +
                       ", choose another --out, or pass --force to overwrite it");
    }
  }
}

std::string epoch_line(const EpochMetrics& m, std::size_t epochs) {
  char buf[320];
  int n = std::snprintf(buf, sizeof buf,
                        "epoch %3zu/%zu  train loss %.4f acc %5.1f%%  test loss %.4f acc %5.1f%%", m.epoch,
                        epochs, m.train_loss, 100 * m.train_accuracy, m.test_loss, 100 * m.test_accuracy);
  if (std::isfinite(m.grad_norm)) {
    n += std::snprintf(buf + n, sizeof buf - static_cast<std::size_t>(n),
                       "  |g| %.3g  top-eig %.4g  trace %.4g  R1 %.3g", m.grad_norm, m.hessian_top_eigenvalue,
                       m.hessian_trace, m.first_order_flatness);
  }
  std::snprintf(buf + n, sizeof buf - static_cast<std::size_t>(n), "  %.1fs", m.seconds);
  return buf;
}

void write_run_plots(const std::string& dir, const std::string& title,
                     const std::vector<EpochMetrics>& epochs) {
  std::vector<double> x;
  for (const auto& e : epochs) x.push_back(static_cast<double>(e.epoch));
  const auto col = [&](double EpochMetrics::*field) {
    std::vector<double> y;
    for (const auto& e : epochs) y.push_back(e.*field);
    return y;
  };
  Panel loss{.title = "loss", .xlabel = "epoch", .ylabel = "cross-entropy", .series = {}};
  loss.series = {{"train", x, col(&EpochMetrics::train_loss)}, {"test", x, col(&EpochMetrics::test_loss)}};
  Panel acc{.title = "accuracy", .xlabel = "epoch", .ylabel = "accuracy", .series = {}};
  acc.series = {{"train", x, col(&EpochMetrics::train_accuracy)},
                {"test", x, col(&EpochMetrics::test_accuracy)}};
  write_text(join_path(dir, "loss.svg"), svg_figure(title, {loss}, 1));
  write_text(join_path(dir, "accuracy.svg"), svg_figure(title, {acc}, 1));
  const auto single = [&](const char* name, const char* ylabel, double EpochMetrics::*field) {
    Panel p{.title = name, .xlabel = "epoch", .ylabel = ylabel, .series = {}};
    p.series = {{"", x, col(field)}};
    return p;
  };
  write_text(
      join_path(dir, "curvature.svg"),
      svg_figure(title + " (fixed batch)",
                 {single("gradient norm", "||grad L||", &EpochMetrics::grad_norm),
                  single("top Hessian eigenvalue", "lambda max", &EpochMetrics::hessian_top_eigenvalue),
                  single("Hessian trace (Hutchinson)", "tr H", &EpochMetrics::hessian_trace),
                  single("first-order flatness R1", "R1", &EpochMetrics::first_order_flatness)},
                 2));
}

TrainResult train_run(const RunConfig& c, const Data& data, const TrainOptions& o) {
  const std::string& out = o.out_dir;
  make_dirs(out);
  set_blas_threads(c.threads);
  Generator init(derive_seed(c.seed, Stream::init));
  auto model = build_model(c, sample_shape(data.train), class_count(data), init);
  const optim::ParamList params = model->parameters();
  auto opt = build_optimizer(c, params);
  TrainResult result;
  result.parameters = model->num_parameters();
  const json config = run_info(c, data, result.parameters);
  const std::string checkpoint = join_path(out, "checkpoint.jgt");

  std::size_t start = 0;
  if (o.resume) {
    start = load_checkpoint(checkpoint, *model, opt.get());
    const std::string metrics_path = join_path(out, "metrics.json");
    if (start > 0) {
      for (const auto& e : read_metrics(metrics_path)) {
        if (e.epoch <= start) result.epochs.push_back(e);
      }
      if (result.epochs.size() != start) {
        throw Error(metrics_path + " records " + std::to_string(result.epochs.size()) + " of the " +
                    std::to_string(start) + " epochs of " + checkpoint);
      }
    }
    if (start >= c.epochs) {
      std::printf("%s: already trained for %zu epochs (ask for more with --epochs)\n", out.c_str(), start);
      return result;
    }
  } else {
    write_text(join_path(out, "config.json"), config.dump(2) + "\n");
    // Epoch 0: the initial weights, so that every run can be resumed from the start too.
    save_checkpoint(checkpoint, *model, opt.get(), 0);
  }

  const nn::Batch fixed = fixed_batch(data.train, c.curvature_batch, c.seed);
  const std::size_t batches_per_epoch = (data.train.size() + c.batch_size - 1) / c.batch_size;
  optim::CosineSchedule cosine(c.lr, batches_per_epoch * c.epochs);
  const std::string prefix = o.label.empty() ? "" : o.label + "  ";

  for (std::size_t epoch = start + 1; epoch <= c.epochs; ++epoch) {
    const double t0 = now_seconds();
    Generator shuffle(derive_seed(c.seed, Stream::shuffle, epoch));
    nn::DataLoader loader(data.train, c.batch_size, true, shuffle);
    Progress bar(prefix + "epoch " + std::to_string(epoch) + "/" + std::to_string(c.epochs),
                 loader.num_batches(), o.progress);
    double loss_sum = 0.0;
    std::size_t done = 0;
    for (const auto& b : loader) {
      if (interrupted()) break;
      optim::Objective objective(params,
                                 [&](Tape& t) { return nn::cross_entropy((*model)(t.constant(b.x)), b.y); });
      if (c.schedule == "cosine") opt->set_learning_rate(cosine(opt->steps()));
      const double loss = opt->step(objective);
      if (!std::isfinite(loss)) {
        bar.finish();
        throw Error("the training loss became " + std::to_string(loss) + " at epoch " +
                    std::to_string(epoch) + ", step " + std::to_string(done + 1) +
                    " (try a smaller --lr); the last good checkpoint is " + checkpoint);
      }
      loss_sum += loss;
      ++done;
      bar.update(done, loss_sum / static_cast<double>(done));
    }
    bar.finish();
    EpochMetrics m;
    m.epoch = epoch;
    if (!interrupted()) {
      const Evaluation tr = evaluate(*model, data.train), te = evaluate(*model, data.test);
      m.train_loss = tr.loss, m.train_accuracy = tr.accuracy, m.test_loss = te.loss,
      m.test_accuracy = te.accuracy;
      if (c.curvature_every > 0 && (epoch % c.curvature_every == 0 || epoch == c.epochs)) {
        curvature_metrics(c, *model, params, fixed, epoch, m);
      }
    }
    if (interrupted()) {
      result.interrupted = true;
      std::fprintf(
          stderr,
          "\ninterrupted: epoch %zu abandoned; %s holds the last complete epoch (%zu). Continue with:\n"
          "  jetgrad train --resume %s\n",
          epoch, out.c_str(), epoch - 1, out.c_str());
      return result;
    }
    m.seconds = now_seconds() - t0;
    result.epochs.push_back(m);
    // Metrics first, then the checkpoint: a crash between the two leaves metrics one epoch ahead,
    // which --resume drops and recomputes (bit for bit).
    write_metrics(out, config, result.epochs);
    save_checkpoint(checkpoint, *model, opt.get(), epoch);
    write_run_plots(out, c.optimizer + ": " + describe_model(c), result.epochs);
    std::printf("%s%s\n", prefix.c_str(), epoch_line(m, c.epochs).c_str());
    std::fflush(stdout);
  }
  return result;
}

CLI::App* add_train_command(CLI::App& root, std::function<int()>& run) {
  auto* sub = root.add_subcommand("train", "train a model, writing metrics, checkpoints and plots to --out");
  auto c = std::make_shared<RunConfig>();
  c->hidden.clear();
  auto out = std::make_shared<std::string>();
  auto resume = std::make_shared<std::string>();
  auto force = std::make_shared<bool>(false);
  add_model_flags(*sub, *c);
  add_data_flags(*sub, *c);
  add_training_flags(*sub, *c);
  add_curvature_flags(*sub, *c);
  sub->add_option("--out", *out,
                  "output directory (default: runs/train, runs/train-2, ... whichever is new)");
  sub->add_option(
      "--resume", *resume,
      "continue the run in this directory from its last checkpoint (only --epochs and --threads may "
      "be given with it)");
  sub->add_flag("--force", *force, "overwrite a run already in --out");
  sub->footer(
      "Example: jetgrad train --model mlp --hidden 256,128 --data fashion-mnist --optimizer sam --epochs 10 "
      "--out runs/sam\n"
      "Writes metrics.json, metrics.csv, checkpoint.jgt, config.json, loss.svg, accuracy.svg, "
      "curvature.svg.");
  run = [sub, c, out, resume, force]() {
    TrainOptions o;
    RunConfig config = *c;
    if (!resume->empty()) {
      for (const CLI::Option* opt : sub->get_options()) {
        if (opt->count() == 0) continue;
        const std::string name = opt->get_name();
        if (name != "--resume" && name != "--epochs" && name != "--threads" && name != "--help") {
          throw UsageError(name + " cannot be combined with --resume (the run's settings come from " +
                           join_path(*resume, "config.json") + "; only --epochs and --threads may change)");
        }
      }
      config = read_run_config(*resume);
      if (sub->count("--epochs") > 0 && c->epochs != config.epochs && config.schedule == "cosine") {
        std::fprintf(
            stderr,
            "jetgrad: note: the cosine schedule spans the run's epochs; from here on the learning rate "
            "follows one over %zu epochs instead of %zu, so the run will differ from an uninterrupted "
            "run of %zu epochs\n",
            c->epochs, config.epochs, c->epochs);
      }
      if (sub->count("--epochs") > 0) config.epochs = c->epochs;
      if (sub->count("--threads") > 0 && c->threads != config.threads) {
        std::fprintf(
            stderr,
            "jetgrad: note: the run used --threads %d; with %d the numbers may differ from an uninterrupted "
            "run in the last bits (BLAS blocking depends on the thread count)\n",
            config.threads, c->threads);
        config.threads = c->threads;
      }
      config.resolve_and_check();
      o.out_dir = *resume;
      o.resume = true;
    } else {
      config.resolve_and_check();
      o.out_dir = output_dir(*out, "runs/train");
      check_fresh(o.out_dir, *force);
    }
    const Data data = load_data(config);
    std::printf(
        "jetgrad train: %s on %s (%zu train / %zu test samples), optimizer %s, lr %g, %zu epochs -> %s\n",
        describe_model(config).c_str(), data.description.c_str(), data.train.size(), data.test.size(),
        config.optimizer.c_str(), config.lr, config.epochs, o.out_dir.c_str());
    std::fflush(stdout);
    install_interrupt_handler();
    const TrainResult r = train_run(config, data, o);
    if (r.interrupted) return 130;
    if (!r.epochs.empty()) {
      const auto& last = r.epochs.back();
      std::printf("final test accuracy %.2f%% after %zu epochs; results in %s\n", 100 * last.test_accuracy,
                  last.epoch, o.out_dir.c_str());
    }
    return 0;
  };
  return sub;
}

}  // namespace jetgrad::app
