// Plots as self-contained SVG files (no external tool): line plots with axes, ticks, grid and a
// legend, several panels a figure, and a heat map for 2-D loss landscapes. Any web browser or image
// viewer opens them.
//
//   Panel p{.title = "loss", .xlabel = "epoch", .ylabel = "cross-entropy"};
//   p.series.push_back({"train", {1, 2, 3}, {0.9, 0.6, 0.5}});
//   write_text("loss.svg", svg_figure("run", {p}));
#pragma once

#include <string>
#include <vector>

namespace jetgrad::app {

struct Series {
  std::string label;
  std::vector<double> x, y;  // non-finite y values are gaps
  bool markers = true;
};

struct Panel {
  std::string title, xlabel, ylabel;
  std::vector<Series> series;
  bool log_y = false;  // logarithmic y axis (non-positive values are left out)
};

// Panels on a grid of `columns` columns, under a figure title.
std::string svg_figure(const std::string& title, const std::vector<Panel>& panels, int columns = 2);

struct Heatmap {
  std::string title, xlabel, ylabel, zlabel;
  std::vector<double> x, y;  // grid coordinates
  std::vector<double> z;     // z[i * y.size() + j] at (x[i], y[j])
};
std::string svg_heatmap(const Heatmap& h);

// "Nice" tick positions covering [lo, hi] (about `target` of them, steps of 1, 2 or 5 × 10^k; with
// `integers`, steps of at least 1).
std::vector<double> nice_ticks(double lo, double hi, int target = 5, bool integers = false);

}  // namespace jetgrad::app
