// jetgrad compare: the same model, data and initialization trained with several optimizers.
#include <cstdio>

#include "apps/plot.hpp"
#include "apps/train.hpp"

namespace jetgrad::app {

namespace {

struct Row {
  std::string optimizer;
  TrainResult result;
  double seconds_per_epoch = 0.0;
};

double mean_seconds(const std::vector<EpochMetrics>& epochs) {
  double s = 0.0;
  for (const auto& e : epochs) s += e.seconds;
  return epochs.empty() ? 0.0 : s / static_cast<double>(epochs.size());
}

std::string cell(double v, const char* format) {
  if (!std::isfinite(v)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

void write_comparison(const std::string& out, const RunConfig& c, const std::vector<Row>& rows) {
  // comparison.json: the final numbers of each optimizer (the per-epoch ones are in
  // <optimizer>/metrics.json).
  json j;
  j["config"] = c.to_json();
  j["results"] = json::array();
  for (const auto& r : rows) {
    json e = r.result.epochs.empty() ? json::object() : r.result.epochs.back().to_json();
    e["optimizer"] = r.optimizer;
    e["seconds_per_epoch"] = r.seconds_per_epoch;
    j["results"].push_back(e);
  }
  write_text(join_path(out, "comparison.json"), j.dump(2) + "\n");

  const auto panel = [&](const char* title, const char* ylabel, double EpochMetrics::*field) {
    Panel p{.title = title, .xlabel = "epoch", .ylabel = ylabel, .series = {}};
    for (const auto& r : rows) {
      Series s{r.optimizer, {}, {}};
      for (const auto& e : r.result.epochs) {
        s.x.push_back(static_cast<double>(e.epoch));
        s.y.push_back(e.*field);
      }
      p.series.push_back(std::move(s));
    }
    return p;
  };
  write_text(join_path(out, "comparison.svg"),
             svg_figure("optimizers compared: " + describe_model(c),
                        {panel("test accuracy", "accuracy", &EpochMetrics::test_accuracy),
                         panel("test loss", "cross-entropy", &EpochMetrics::test_loss),
                         panel("train loss", "cross-entropy", &EpochMetrics::train_loss),
                         panel("top Hessian eigenvalue", "lambda max", &EpochMetrics::hessian_top_eigenvalue),
                         panel("Hessian trace", "tr H", &EpochMetrics::hessian_trace),
                         panel("first-order flatness R1", "R1", &EpochMetrics::first_order_flatness)},
                        3));
}

std::string table(const std::vector<Row>& rows) {
  std::string s;
  char buf[256];
  std::snprintf(buf, sizeof buf, "%-16s %10s %10s %12s %12s %12s %10s\n", "optimizer", "test acc",
                "test loss", "top eig", "trace", "R1", "s/epoch");
  s += buf;
  s += std::string(88, '-') + "\n";
  for (const auto& r : rows) {
    const EpochMetrics last = r.result.epochs.empty() ? EpochMetrics{} : r.result.epochs.back();
    std::snprintf(buf, sizeof buf, "%-16s %10s %10s %12s %12s %12s %10s\n", r.optimizer.c_str(),
                  (cell(100 * last.test_accuracy, "%.2f") + "%").c_str(),
                  cell(last.test_loss, "%.4f").c_str(), cell(last.hessian_top_eigenvalue, "%.4g").c_str(),
                  cell(last.hessian_trace, "%.4g").c_str(), cell(last.first_order_flatness, "%.4g").c_str(),
                  cell(r.seconds_per_epoch, "%.2f").c_str());
    s += buf;
  }
  return s;
}

}  // namespace

CLI::App* add_compare_command(CLI::App& root, std::function<int()>& run) {
  auto* sub = root.add_subcommand(
      "compare",
      "train the same model from the same initialization with several optimizers and compare accuracy, "
      "curvature and time (no arguments: ~1 minute on the embedded data)");
  auto c = std::make_shared<RunConfig>();
  c->hidden.clear();
  auto optimizers = std::make_shared<std::vector<std::string>>(std::vector<std::string>{"sgd", "sam", "gam"});
  auto out = std::make_shared<std::string>();
  auto force = std::make_shared<bool>(false);
  sub->add_option("--optimizers", *optimizers,
                  "optimizers to compare, comma-separated (see train --optimizer)")
      ->delimiter(',')
      ->capture_default_str();
  add_model_flags(*sub, *c);
  add_data_flags(*sub, *c);
  add_training_flags(*sub, *c);
  sub->remove_option(sub->get_option("--optimizer"));
  add_curvature_flags(*sub, *c);
  sub->add_option("--out", *out,
                  "output directory (default: runs/compare, runs/compare-2, ... whichever is new)");
  sub->add_flag("--force", *force, "overwrite runs already in --out");
  sub->footer(
      "Writes <out>/<optimizer>/ (as jetgrad train does) for each optimizer, and <out>/comparison.json and "
      "<out>/comparison.svg.");
  run = [c, optimizers, out, force]() {
    if (optimizers->empty()) throw UsageError("--optimizers: give at least one optimizer");
    RunConfig shown = *c;
    shown.resolve_and_check();  // checks the shared flags once, before any training
    std::vector<RunConfig> configs;
    for (const auto& name : *optimizers) {
      RunConfig ci = *c;
      ci.optimizer = name;
      ci.resolve_and_check();
      configs.push_back(ci);
    }
    const std::string dir = output_dir(*out, "runs/compare");
    for (const auto& ci : configs) check_fresh(join_path(dir, ci.optimizer), *force);
    make_dirs(dir);
    const Data data = load_data(shown);
    std::printf("jetgrad compare: %s on %s (%zu train / %zu test samples), %zu epochs, batch %zu, optimizers",
                describe_model(shown).c_str(), data.description.c_str(), data.train.size(), data.test.size(),
                shown.epochs, shown.batch_size);
    for (const auto& name : *optimizers) std::printf(" %s", name.c_str());
    std::printf(" -> %s\n", dir.c_str());
    std::fflush(stdout);
    install_interrupt_handler();
    std::vector<Row> rows;
    for (const auto& ci : configs) {
      TrainOptions o;
      o.out_dir = join_path(dir, ci.optimizer);
      o.label = ci.optimizer;
      Row r;
      r.optimizer = ci.optimizer;
      r.result = train_run(ci, data, o);
      r.seconds_per_epoch = mean_seconds(r.result.epochs);
      if (r.result.interrupted) return 130;
      rows.push_back(std::move(r));
      write_comparison(dir, shown, rows);
    }
    std::printf("\n%s\nplots: %s/comparison.svg, per optimizer %s/<optimizer>/*.svg\n", table(rows).c_str(),
                dir.c_str(), dir.c_str());
    return 0;
  };
  return sub;
}

}  // namespace jetgrad::app
