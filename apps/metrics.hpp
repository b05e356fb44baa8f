// metrics.json and metrics.csv: one record per epoch (README.md, "metrics.json").
#pragma once

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "apps/common.hpp"

namespace jetgrad::app {

inline constexpr double missing = std::numeric_limits<double>::quiet_NaN();  // null in JSON, empty in CSV

struct EpochMetrics {
  std::size_t epoch = 0;
  double train_loss = missing, train_accuracy = missing;
  double test_loss = missing, test_accuracy = missing;
  // On the fixed curvature batch (missing on epochs without curvature metrics):
  double grad_norm = missing, hessian_top_eigenvalue = missing, hessian_trace = missing,
         first_order_flatness = missing;
  double seconds = missing;  // wall time of the epoch: training steps, evaluation and metrics

  json to_json() const;
  static EpochMetrics from_json(const json& j, const std::string& source);
};

// The column names, in file order (seconds last, so `cut -d, -f1-9` keeps the reproducible part).
const std::vector<std::string>& metric_columns();

// {"config": config, "epochs": [...]}
std::string metrics_json(const json& config, const std::vector<EpochMetrics>& epochs);
std::string metrics_csv(const std::vector<EpochMetrics>& epochs);
// Both files, atomically, into `dir`.
void write_metrics(const std::string& dir, const json& config, const std::vector<EpochMetrics>& epochs);
// The epochs recorded in <dir>/metrics.json.
std::vector<EpochMetrics> read_metrics(const std::string& path);

}  // namespace jetgrad::app
