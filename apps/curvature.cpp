// jetgrad curvature: the curvature of a trained model's loss, from a checkpoint.
#include "optim/curvature.hpp"

#include <cstdio>
#include <filesystem>

#include "apps/commands.hpp"
#include "apps/plot.hpp"
#include "apps/train.hpp"

namespace jetgrad::app {

namespace {

struct CurvatureOptions {
  std::string checkpoint;
  std::string out;
  std::size_t top_k = 3;
  std::size_t density_runs = 1;
  std::size_t density_steps = 30;
  std::string landscape = "1d";
  std::size_t landscape_points = 0;  // 0: 25 (1-D) or 15 per axis (2-D)
  double landscape_radius = 1.0;
  bool sharpness = true;
};

std::vector<double> linspace(double lo, double hi, std::size_t n) {
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = n == 1 ? lo : lo + (hi - lo) * static_cast<double>(i) / static_cast<double>(n - 1);
  return v;
}

int run_curvature(CLI::App* sub, const RunConfig& given, const CurvatureOptions& o) {
  namespace fs = std::filesystem;
  // Where the checkpoint and the run's configuration are.
  std::string checkpoint = o.checkpoint, run_dir;
  if (fs::is_directory(checkpoint)) {
    run_dir = checkpoint;
    checkpoint = join_path(checkpoint, "checkpoint.jgt");
  } else {
    run_dir = fs::path(checkpoint).parent_path().string();
    if (run_dir.empty()) run_dir = ".";
  }
  if (!file_exists(checkpoint)) throw Error("checkpoint " + checkpoint + " does not exist");
  RunConfig c;
  c.hidden.clear();
  const bool have_run_config = file_exists(join_path(run_dir, "config.json"));
  if (have_run_config) c = read_run_config(run_dir);
  // Flags given on the command line win over the run's configuration.
  const auto given_flag = [&](const char* name) { return sub->count(name) > 0; };
  if (given_flag("--model")) c.model = given.model;
  if (given_flag("--hidden")) c.hidden = given.hidden;
  if (given_flag("--activation")) c.activation = given.activation;
  if (given_flag("--dtype")) c.dtype = given.dtype;
  if (given_flag("--data")) c.data = given.data;
  if (given_flag("--test-data")) c.test_data = given.test_data;
  if (given_flag("--label-column")) c.label_column = given.label_column;
  if (given_flag("--limit-train")) c.limit_train = given.limit_train;
  if (given_flag("--limit-test")) c.limit_test = given.limit_test;
  if (given_flag("--seed")) c.seed = given.seed;
  if (given_flag("--threads")) c.threads = given.threads;
  // The curvature settings are this command's own (more Lanczos steps and samples than the per-epoch ones).
  c.curvature_batch = given.curvature_batch;
  c.lanczos_steps = given.lanczos_steps;
  c.trace_samples = given.trace_samples;
  c.flatness_steps = given.flatness_steps;
  c.flatness_rho = given.flatness_rho;
  c.resolve_and_check();
  if (o.landscape != "none" && o.landscape != "1d" && o.landscape != "2d") {
    throw UsageError("--landscape: expected none|1d|2d, got '" + o.landscape + "'");
  }
  if (o.top_k == 0 || o.top_k > c.lanczos_steps) {
    throw UsageError("--top-k: must be between 1 and --lanczos-steps (" + std::to_string(c.lanczos_steps) +
                     ")");
  }
  const std::string out = o.out.empty() ? run_dir : o.out;
  make_dirs(out);
  set_blas_threads(c.threads);

  const Data data = load_data(c);
  Generator init(derive_seed(c.seed, Stream::init));
  auto model = build_model(c, sample_shape(data.train), class_count(data), init);
  const std::size_t epoch = load_checkpoint(checkpoint, *model, nullptr);
  const optim::ParamList params = model->parameters();
  const nn::Batch fixed = fixed_batch(data.train, c.curvature_batch, c.seed);
  optim::Objective obj(params,
                       [&](Tape& t) { return nn::cross_entropy((*model)(t.constant(fixed.x)), fixed.y); });
  std::printf("jetgrad curvature: %s, %s (epoch %zu), %zu parameters, fixed batch of %zu training samples\n",
              describe_model(c).c_str(), checkpoint.c_str(), epoch, model->num_parameters(), fixed.y.size());
  std::fflush(stdout);

  Generator gen(derive_seed(c.seed, Stream::curvature, 1000000 + epoch));
  const optim::ParamVector theta = obj.values();
  const std::size_t dim = optim::numel(theta);
  const auto [loss, g] = obj.value_and_gradient();
  const auto eig = optim::top_eigenvalues(
      optim::hvp_of(obj), theta, gen, {.k = std::min(o.top_k, dim), .steps = std::min(c.lanczos_steps, dim)});
  const Estimate trace =
      optim::hutchinson_trace(optim::hvp_of(obj), theta, gen, {.samples = c.trace_samples});
  const optim::FlatnessOptions fo{.rho = c.flatness_rho, .steps = c.flatness_steps};
  const double r1 = optim::first_order_flatness(obj, gen, fo).value;
  const double r0 = o.sharpness ? optim::zeroth_order_sharpness(obj, gen, fo).value : missing;
  const optim::SpectralDensity density = optim::spectral_density(
      optim::hvp_of(obj), theta, gen,
      {.runs = o.density_runs, .steps = std::min(o.density_steps, dim), .grid_points = 1000});

  json report;
  report["checkpoint"] = checkpoint;
  report["epoch"] = epoch;
  report["config"] = c.to_json();
  report["batch_size"] = fixed.y.size();
  report["loss"] = loss;
  report["grad_norm"] = optim::norm(g);
  report["hessian_top_eigenvalues"] = json::array();
  for (const auto& e : eig) report["hessian_top_eigenvalues"].push_back(e.value);
  report["hessian_trace"] = trace.mean;
  report["hessian_trace_standard_error"] = trace.standard_error;
  report["first_order_flatness"] = r1;
  report["zeroth_order_sharpness"] = std::isfinite(r0) ? json(r0) : json(nullptr);
  report["flatness_rho"] = c.flatness_rho;
  report["density"] = {{"grid", density.grid},
                       {"density", density.density},
                       {"ritz_values", density.nodes},
                       {"ritz_weights", density.weights}};

  std::printf("  loss on the batch           %.6g\n", loss);
  std::printf("  gradient norm               %.6g\n", optim::norm(g));
  std::printf("  top Hessian eigenvalues    ");
  for (const auto& e : eig) std::printf(" %.6g", e.value);
  std::printf("   (Lanczos, %zu steps)\n", std::min(c.lanczos_steps, dim));
  std::printf("  Hessian trace               %.6g +- %.2g   (Hutchinson, %zu samples)\n", trace.mean,
              trace.standard_error, c.trace_samples);
  std::printf("  first-order flatness R1     %.6g   (rho %g)\n", r1, c.flatness_rho);
  if (std::isfinite(r0)) std::printf("  zeroth-order sharpness      %.6g   (rho %g)\n", r0, c.flatness_rho);

  Panel dp{.title = "Hessian eigenvalue density (SLQ)",
           .xlabel = "eigenvalue",
           .ylabel = "density",
           .series = {},
           .log_y = true};
  dp.series.push_back({"", density.grid, density.density, false});
  write_text(join_path(out, "hessian_density.svg"),
             svg_figure(describe_model(c) + ", epoch " + std::to_string(epoch), {dp}, 1));
  std::vector<std::string> files = {"hessian_density.svg"};

  if (o.landscape != "none") {
    Generator lgen(derive_seed(c.seed, Stream::landscape, epoch));
    const optim::ParamVector d1 = optim::filter_normalized_direction(theta, lgen);
    const std::size_t n = o.landscape_points ? o.landscape_points : (o.landscape == "1d" ? 25 : 15);
    const std::vector<double> alphas = linspace(-o.landscape_radius, o.landscape_radius, n);
    if (o.landscape == "1d") {
      const std::vector<double> values = optim::landscape_1d(obj, d1, alphas);
      report["landscape"] = {{"kind", "1d"}, {"alphas", alphas}, {"loss", values}};
      Panel lp{.title = "loss along a filter-normalized random direction",
               .xlabel = "alpha",
               .ylabel = "loss",
               .series = {}};
      lp.series.push_back({"", alphas, values});
      write_text(join_path(out, "landscape_1d.svg"), svg_figure(describe_model(c), {lp}, 1));
      files.push_back("landscape_1d.svg");
      std::printf("  1-D landscape               loss %.4g at alpha 0, %.4g .. %.4g at alpha +-%g\n",
                  values[n / 2], values.front(), values.back(), o.landscape_radius);
    } else {
      const optim::ParamVector d2 = optim::filter_normalized_direction(theta, lgen);
      const std::vector<double> values = optim::landscape_2d(obj, d1, d2, alphas, alphas);
      report["landscape"] = {{"kind", "2d"}, {"alphas", alphas}, {"betas", alphas}, {"loss", values}};
      Heatmap hm{.title = "loss on a plane of filter-normalized directions",
                 .xlabel = "alpha",
                 .ylabel = "beta",
                 .zlabel = "loss",
                 .x = alphas,
                 .y = alphas,
                 .z = values};
      write_text(join_path(out, "landscape_2d.svg"), svg_heatmap(hm));
      files.push_back("landscape_2d.svg");
      std::printf("  2-D landscape               %zux%zu grid, loss %.4g at the centre\n", n, n,
                  values[(n / 2) * n + n / 2]);
    }
  }
  write_text(join_path(out, "curvature.json"), report.dump(2) + "\n");
  std::printf("wrote %s/curvature.json", out.c_str());
  for (const auto& f : files) std::printf(", %s", f.c_str());
  std::printf("\n");
  return 0;
}

}  // namespace

CLI::App* add_curvature_command(CLI::App& root, std::function<int()>& run) {
  auto* sub = root.add_subcommand(
      "curvature", "curvature metrics, the Hessian eigenvalue density and a loss landscape of a checkpoint");
  auto c = std::make_shared<RunConfig>();
  c->hidden.clear();
  c->lanczos_steps = 30;
  c->trace_samples = 50;
  auto o = std::make_shared<CurvatureOptions>();
  sub->add_option("checkpoint", o->checkpoint, "a run directory (from jetgrad train) or its checkpoint.jgt")
      ->required();
  add_model_flags(*sub, *c);
  add_data_flags(*sub, *c);
  sub->add_option("--seed", c->seed, "seed (default: the run's)");
  sub->add_option("--threads", c->threads, "OpenBLAS threads (0: the library's default)");
  add_curvature_flags(*sub, *c);
  sub->remove_option(sub->get_option("--curvature-every"));
  sub->add_option("--top-k", o->top_k, "how many of the largest eigenvalues")->capture_default_str();
  sub->add_option("--density-runs", o->density_runs, "Lanczos runs of the eigenvalue density")
      ->capture_default_str();
  sub->add_option("--density-steps", o->density_steps, "Lanczos steps per density run")
      ->capture_default_str();
  sub->add_option("--landscape", o->landscape, "loss landscape: none, 1d or 2d")
      ->check(CLI::IsMember({"none", "1d", "2d"}))
      ->capture_default_str();
  sub->add_option("--landscape-points", o->landscape_points,
                  "points (per axis) of the landscape (default 25 / 15)");
  sub->add_option("--landscape-radius", o->landscape_radius,
                  "the landscape spans [-r, r] along each direction")
      ->capture_default_str();
  sub->add_flag("!--no-sharpness", o->sharpness, "skip the zeroth-order sharpness");
  sub->add_option("--out", o->out, "output directory (default: the checkpoint's directory)");
  sub->footer(
      "The model and data come from the run's config.json next to the checkpoint; --model, --hidden, --data "
      "... "
      "override them.\nWrites curvature.json, hessian_density.svg and landscape_1d.svg or landscape_2d.svg.");
  run = [sub, c, o]() { return run_curvature(sub, *c, *o); };
  return sub;
}

}  // namespace jetgrad::app
