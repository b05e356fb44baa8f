#include "apps/plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

namespace jetgrad::app {

namespace {

const char* const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                               "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

constexpr double panel_w = 460, panel_h = 320;
constexpr double margin_left = 72, margin_right = 16, margin_top = 34, margin_bottom = 48;

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string fmt(double v) {
  char buf[32];
  if (v == 0.0) return "0";
  const double a = std::abs(v);
  if (a >= 1e5 || a < 1e-3)
    std::snprintf(buf, sizeof buf, "%.2g", v);
  else
    std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

std::string text(double x, double y, const std::string& s, const char* anchor = "middle", int size = 12,
                 const std::string& extra = "") {
  return "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" font-size=\"" + std::to_string(size) +
         "\" text-anchor=\"" + anchor + "\"" + extra + ">" + escape(s) + "</text>\n";
}

std::string line(double x1, double y1, double x2, double y2, const std::string& style) {
  return "<line x1=\"" + num(x1) + "\" y1=\"" + num(y1) + "\" x2=\"" + num(x2) + "\" y2=\"" + num(y2) +
         "\" " + style + "/>\n";
}

struct Range {
  double lo = std::numeric_limits<double>::infinity(), hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    if (!std::isfinite(v)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  bool empty() const { return !(lo <= hi); }
  void widen() {
    if (empty()) lo = 0, hi = 1;
    if (lo == hi) {
      const double d = lo == 0.0 ? 1.0 : std::abs(lo) * 0.1;
      lo -= d, hi += d;
    }
  }
};

// One panel with its top-left corner at (ox, oy).
std::string draw_panel(const Panel& p, double ox, double oy) {
  std::string s;
  const double x0 = ox + margin_left, x1 = ox + panel_w - margin_right;
  const double y0 = oy + margin_top, y1 = oy + panel_h - margin_bottom;  // y0 top, y1 bottom
  const auto ty = [&](double v) { return p.log_y ? (v > 0 ? std::log10(v) : std::nan("")) : v; };
  Range rx, ry;
  for (const auto& se : p.series) {
    for (std::size_t i = 0; i < std::min(se.x.size(), se.y.size()); ++i) {
      if (!std::isfinite(ty(se.y[i]))) continue;
      rx.add(se.x[i]);
      ry.add(ty(se.y[i]));
    }
  }
  const bool no_data = rx.empty();
  // A log axis shows at most 10 decades below the largest value (densities have tails of 1e-300).
  if (p.log_y && !ry.empty()) ry.lo = std::max(ry.lo, ry.hi - 10.0);
  rx.widen();
  ry.widen();
  bool integer_x = true;
  for (const auto& se : p.series)
    for (double v : se.x) integer_x = integer_x && (!std::isfinite(v) || v == std::round(v));
  std::vector<double> xt = nice_ticks(rx.lo, rx.hi, 5, integer_x), yt;
  if (p.log_y) {
    for (double e = std::floor(ry.lo); e <= std::ceil(ry.hi); e += 1.0) yt.push_back(e);
    if (yt.size() > 8) {
      std::vector<double> thin;
      const std::size_t every = (yt.size() + 7) / 8;
      for (std::size_t i = 0; i < yt.size(); i += every) thin.push_back(yt[i]);
      yt = thin;
    }
  } else {
    yt = nice_ticks(ry.lo, ry.hi);
  }
  // The axes span the ticks and the data.
  const double ax_lo = std::min(rx.lo, xt.front()), ax_hi = std::max(rx.hi, xt.back());
  const double ay_lo = std::min(ry.lo, yt.front()), ay_hi = std::max(ry.hi, yt.back());
  const auto px = [&](double v) { return x0 + (v - ax_lo) / (ax_hi - ax_lo) * (x1 - x0); };
  const auto py = [&](double v) { return y1 - (v - ay_lo) / (ay_hi - ay_lo) * (y1 - y0); };

  s += "<rect x=\"" + num(x0) + "\" y=\"" + num(y0) + "\" width=\"" + num(x1 - x0) + "\" height=\"" +
       num(y1 - y0) + "\" fill=\"white\" stroke=\"#333\"/>\n";
  for (double t : xt) {
    s += line(px(t), y0, px(t), y1, "stroke=\"#e5e5e5\"");
    s += line(px(t), y1, px(t), y1 + 5, "stroke=\"#333\"");
    s += text(px(t), y1 + 18, fmt(t));
  }
  for (double t : yt) {
    s += line(x0, py(t), x1, py(t), "stroke=\"#e5e5e5\"");
    s += line(x0 - 5, py(t), x0, py(t), "stroke=\"#333\"");
    s += text(x0 - 8, py(t) + 4, p.log_y ? "1e" + fmt(t) : fmt(t), "end");
  }
  s += text((x0 + x1) / 2, oy + 20, p.title, "middle", 14, " font-weight=\"bold\"");
  s += text((x0 + x1) / 2, y1 + 38, p.xlabel);
  s += text(ox + 16, (y0 + y1) / 2, p.ylabel + (p.log_y ? " (log)" : ""), "middle", 12,
            " transform=\"rotate(-90 " + num(ox + 16) + " " + num((y0 + y1) / 2) + ")\"");
  if (no_data) s += text((x0 + x1) / 2, (y0 + y1) / 2, "no data", "middle", 13, " fill=\"#888\"");

  for (std::size_t k = 0; k < p.series.size(); ++k) {
    const auto& se = p.series[k];
    const std::string color = palette[k % std::size(palette)];
    std::string path;
    bool pen_down = false;
    std::string dots;
    for (std::size_t i = 0; i < std::min(se.x.size(), se.y.size()); ++i) {
      double v = ty(se.y[i]);
      if (p.log_y && std::isfinite(v)) v = std::max(v, ay_lo);
      if (!std::isfinite(v) || !std::isfinite(se.x[i])) {
        pen_down = false;
        continue;
      }
      path += (pen_down ? " L" : " M") + num(px(se.x[i])) + " " + num(py(v));
      pen_down = true;
      if (se.markers) {
        dots += "<circle cx=\"" + num(px(se.x[i])) + "\" cy=\"" + num(py(v)) + "\" r=\"2.8\" fill=\"" +
                color + "\"/>\n";
      }
    }
    if (!path.empty()) {
      s += "<path d=\"" + path + "\" fill=\"none\" stroke=\"" + color + "\" stroke-width=\"1.8\"/>\n" + dots;
    }
  }
  // Legend, top right inside the plot.
  if (!p.series.empty() && !(p.series.size() == 1 && p.series[0].label.empty())) {
    std::size_t longest = 0;
    for (const auto& se : p.series) longest = std::max(longest, se.label.size());
    const double lw = 28 + 6.6 * static_cast<double>(longest),
                 lh = 8 + 16 * static_cast<double>(p.series.size());
    const double lx = x1 - lw - 6, ly = y0 + 6;
    s += "<rect x=\"" + num(lx) + "\" y=\"" + num(ly) + "\" width=\"" + num(lw) + "\" height=\"" + num(lh) +
         "\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#bbb\"/>\n";
    for (std::size_t k = 0; k < p.series.size(); ++k) {
      const double yy = ly + 14 + 16 * static_cast<double>(k);
      s += line(lx + 5, yy - 4, lx + 21, yy - 4,
                "stroke=\"" + std::string(palette[k % std::size(palette)]) + "\" stroke-width=\"2.5\"");
      s += text(lx + 25, yy, p.series[k].label, "start", 11);
    }
  }
  return s;
}

std::string header(double w, double h) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
         num(w) + "\" height=\"" + num(h) + "\" viewBox=\"0 0 " + num(w) + " " + num(h) +
         "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" "
         "shape-rendering=\"geometricPrecision\">\n<rect width=\"100%\" height=\"100%\" "
         "fill=\"white\"/>\n";
}

// A perceptual colour map (viridis, 5 anchors, linearly interpolated), t in [0, 1].
std::string viridis(double t) {
  static const double c[5][3] = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
  t = std::clamp(std::isfinite(t) ? t : 0.0, 0.0, 1.0) * 4.0;
  const int i = std::min(3, static_cast<int>(t));
  const double f = t - i;
  char buf[16];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", static_cast<int>(c[i][0] + f * (c[i + 1][0] - c[i][0])),
                static_cast<int>(c[i][1] + f * (c[i + 1][1] - c[i][1])),
                static_cast<int>(c[i][2] + f * (c[i + 1][2] - c[i][2])));
  return buf;
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int target, bool integers) {
  if (!(hi > lo)) return {lo};
  const double raw = (hi - lo) / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * mag;
    if (step >= raw) break;
  }
  if (integers) step = std::max(step, 1.0);
  std::vector<double> out;
  for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) {
    out.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  }
  if (out.empty()) out.push_back(lo);
  return out;
}

std::string svg_figure(const std::string& title, const std::vector<Panel>& panels, int columns) {
  const int n = static_cast<int>(panels.size());
  columns = std::max(1, std::min(columns, std::max(n, 1)));
  const int rows_ = (n + columns - 1) / columns;
  const double top = title.empty() ? 0 : 30;
  const double w = panel_w * columns, h = top + panel_h * std::max(rows_, 1);
  std::string s = header(w, h);
  if (!title.empty()) s += text(w / 2, 21, title, "middle", 15, " font-weight=\"bold\"");
  for (int i = 0; i < n; ++i) {
    s += draw_panel(panels[static_cast<std::size_t>(i)], panel_w * (i % columns),
                    top + panel_h * (i / columns));
  }
  return s + "</svg>\n";
}

std::string svg_heatmap(const Heatmap& hm) {
  const double w = 560, h = 470, x0 = 72, x1 = 440, y0 = 40, y1 = 410;
  std::string s = header(w, h);
  s += text((x0 + x1) / 2, 24, hm.title, "middle", 14, " font-weight=\"bold\"");
  const std::size_t nx = hm.x.size(), ny = hm.y.size();
  Range rz;
  for (double v : hm.z) rz.add(v);
  rz.widen();
  if (nx >= 1 && ny >= 1 && hm.z.size() == nx * ny) {
    const double cw = (x1 - x0) / static_cast<double>(nx), ch = (y1 - y0) / static_cast<double>(ny);
    for (std::size_t i = 0; i < nx; ++i) {
      for (std::size_t j = 0; j < ny; ++j) {
        const double v = hm.z[i * ny + j];
        const std::string fill = std::isfinite(v) ? viridis((v - rz.lo) / (rz.hi - rz.lo)) : "#ffffff";
        s += "<rect x=\"" + num(x0 + cw * static_cast<double>(i)) + "\" y=\"" +
             num(y1 - ch * static_cast<double>(j + 1)) + "\" width=\"" + num(cw + 0.3) + "\" height=\"" +
             num(ch + 0.3) + "\" fill=\"" + fill + "\" shape-rendering=\"crispEdges\"/>\n";
      }
    }
    // Ticks at a few grid coordinates (cell centres).
    const auto ticks = [](std::size_t count) {
      std::vector<std::size_t> idx;
      const std::size_t every = std::max<std::size_t>(1, (count + 4) / 5);
      for (std::size_t i = 0; i < count; i += every) idx.push_back(i);
      if (idx.back() != count - 1) idx.push_back(count - 1);
      return idx;
    };
    for (std::size_t i : ticks(nx)) {
      const double xx = x0 + cw * (static_cast<double>(i) + 0.5);
      s += line(xx, y1, xx, y1 + 5, "stroke=\"#333\"") + text(xx, y1 + 18, fmt(hm.x[i]));
    }
    for (std::size_t j : ticks(ny)) {
      const double yy = y1 - ch * (static_cast<double>(j) + 0.5);
      s += line(x0 - 5, yy, x0, yy, "stroke=\"#333\"") + text(x0 - 8, yy + 4, fmt(hm.y[j]), "end");
    }
  }
  s += "<rect x=\"" + num(x0) + "\" y=\"" + num(y0) + "\" width=\"" + num(x1 - x0) + "\" height=\"" +
       num(y1 - y0) + "\" fill=\"none\" stroke=\"#333\"/>\n";
  s += text((x0 + x1) / 2, y1 + 40, hm.xlabel);
  s += text(18, (y0 + y1) / 2, hm.ylabel, "middle", 12,
            " transform=\"rotate(-90 18 " + num((y0 + y1) / 2) + ")\"");
  // Colour bar.
  const double bx = 465, bw = 18;
  for (int k = 0; k < 64; ++k) {
    const double t0 = k / 64.0;
    s += "<rect x=\"" + num(bx) + "\" y=\"" + num(y1 - (y1 - y0) * (t0 + 1.0 / 64)) + "\" width=\"" +
         num(bw) + "\" height=\"" + num((y1 - y0) / 64 + 0.5) + "\" fill=\"" + viridis(t0 + 0.5 / 64) +
         "\" shape-rendering=\"crispEdges\"/>\n";
  }
  s += "<rect x=\"" + num(bx) + "\" y=\"" + num(y0) + "\" width=\"" + num(bw) + "\" height=\"" +
       num(y1 - y0) + "\" fill=\"none\" stroke=\"#333\"/>\n";
  for (double t : nice_ticks(rz.lo, rz.hi)) {
    const double yy = y1 - (t - rz.lo) / (rz.hi - rz.lo) * (y1 - y0);
    s += line(bx + bw, yy, bx + bw + 4, yy, "stroke=\"#333\"") +
         text(bx + bw + 7, yy + 4, fmt(t), "start", 11);
  }
  s += text(bx + bw / 2, y0 - 8, hm.zlabel, "middle", 11);
  return s + "</svg>\n";
}

}  // namespace jetgrad::app
