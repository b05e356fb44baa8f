#include "apps/metrics.hpp"

#include <cstdio>

namespace jetgrad::app {

namespace {

json number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

double read_number(const json& j, const char* key, const std::string& source) {
  if (!j.contains(key) || j.at(key).is_null()) return missing;
  if (!j.at(key).is_number()) throw Error(source + ": epoch entry '" + key + "' is not a number");
  return j.at(key).get<double>();
}

}  // namespace

const std::vector<std::string>& metric_columns() {
  static const std::vector<std::string> columns = {"epoch",
                                                   "train_loss",
                                                   "train_accuracy",
                                                   "test_loss",
                                                   "test_accuracy",
                                                   "grad_norm",
                                                   "hessian_top_eigenvalue",
                                                   "hessian_trace",
                                                   "first_order_flatness",
                                                   "seconds"};
  return columns;
}

json EpochMetrics::to_json() const {
  return json{{"epoch", epoch},
              {"train_loss", number(train_loss)},
              {"train_accuracy", number(train_accuracy)},
              {"test_loss", number(test_loss)},
              {"test_accuracy", number(test_accuracy)},
              {"grad_norm", number(grad_norm)},
              {"hessian_top_eigenvalue", number(hessian_top_eigenvalue)},
              {"hessian_trace", number(hessian_trace)},
              {"first_order_flatness", number(first_order_flatness)},
              {"seconds", number(seconds)}};
}

EpochMetrics EpochMetrics::from_json(const json& j, const std::string& source) {
  if (!j.is_object() || !j.contains("epoch") || !j.at("epoch").is_number_unsigned()) {
    throw Error(source + ": an entry of \"epochs\" has no epoch number");
  }
  EpochMetrics m;
  m.epoch = j.at("epoch").get<std::size_t>();
  m.train_loss = read_number(j, "train_loss", source);
  m.train_accuracy = read_number(j, "train_accuracy", source);
  m.test_loss = read_number(j, "test_loss", source);
  m.test_accuracy = read_number(j, "test_accuracy", source);
  m.grad_norm = read_number(j, "grad_norm", source);
  m.hessian_top_eigenvalue = read_number(j, "hessian_top_eigenvalue", source);
  m.hessian_trace = read_number(j, "hessian_trace", source);
  m.first_order_flatness = read_number(j, "first_order_flatness", source);
  m.seconds = read_number(j, "seconds", source);
  return m;
}

std::string metrics_json(const json& config, const std::vector<EpochMetrics>& epochs) {
  json j;
  j["config"] = config;
  j["epochs"] = json::array();
  for (const auto& e : epochs) j["epochs"].push_back(e.to_json());
  return j.dump(2) + "\n";
}

std::string metrics_csv(const std::vector<EpochMetrics>& epochs) {
  std::string out;
  for (const auto& c : metric_columns()) out += (out.empty() ? "" : ",") + c;
  out += "\n";
  const auto cell = [](double v) {
    if (!std::isfinite(v)) return std::string();
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);  // round-trips every double
    return std::string(buf);
  };
  for (const auto& e : epochs) {
    out += std::to_string(e.epoch);
    for (double v : {e.train_loss, e.train_accuracy, e.test_loss, e.test_accuracy, e.grad_norm,
                     e.hessian_top_eigenvalue, e.hessian_trace, e.first_order_flatness, e.seconds}) {
      out += ',';
      out += cell(v);
    }
    out += "\n";
  }
  return out;
}

void write_metrics(const std::string& dir, const json& config, const std::vector<EpochMetrics>& epochs) {
  write_text(join_path(dir, "metrics.json"), metrics_json(config, epochs));
  write_text(join_path(dir, "metrics.csv"), metrics_csv(epochs));
}

std::vector<EpochMetrics> read_metrics(const std::string& path) {
  const json j = read_json_file(path);
  if (!j.is_object() || !j.contains("epochs") || !j.at("epochs").is_array()) {
    throw Error(path + ": expected {\"config\": ..., \"epochs\": [...]}");
  }
  std::vector<EpochMetrics> out;
  for (const auto& e : j.at("epochs")) out.push_back(EpochMetrics::from_json(e, path));
  return out;
}

}  // namespace jetgrad::app
