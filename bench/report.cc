#include "bench/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "chaos/report.h"

namespace duplex::bench {
namespace {

constexpr double kWidth = 760, kLeft = 70, kRight = 740;
const char* const kDuplexColor = "#1f6fb4";
const char* const kPeerColor = "#e0761a";

std::string Num(double v, const char* format = "%.4g") {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

std::string Cell(const std::vector<double>& samples) {
  if (samples.empty()) return "<td>-</td>";
  Spread s = SpreadOf(samples);
  if (s.n == 1) return "<td>" + Num(s.median) + "</td>";
  return "<td><b>" + Num(s.median) + "</b> <span class=\"range\">(" + Num(s.min) + " – " +
         Num(s.max) + ", n=" + std::to_string(s.n) + ")</span></td>";
}

std::string Table(const Figures& figures, const std::string& peer) {
  std::string html = "<table>\n<tr><th>figure</th><th>unit</th><th>duplex median (min – max)</th>";
  if (!peer.empty()) {
    html += "<th>" + HtmlEscape(peer) + " median (min – max)</th><th>" + HtmlEscape(peer) +
            " ran</th><th>duplex / " + HtmlEscape(peer) + "</th>";
  }
  html += "</tr>\n";
  for (const auto& f : figures.all()) {
    html += "<tr><td>" + HtmlEscape(f.label) + "</td><td>" + HtmlEscape(f.unit) + "</td>" +
            Cell(f.duplex);
    if (!peer.empty()) {
      double r = f.Ratio();
      bool good = r != 0 && (f.better == Better::kHigher ? r >= 1 : r <= 1);
      html += Cell(f.peer) + "<td>" + HtmlEscape(f.peer_label) + "</td><td class=\"" +
              (r == 0 ? ""
               : good ? "good"
                      : "bad") +
              "\">" + (r == 0 ? "-" : Num(r, "%.3g")) + "</td>";
    }
    html += "</tr>\n";
  }
  return html + "</table>\n";
}

std::string Legend(double y, const std::string& peer) {
  std::string out = "<rect x=\"" + Num(kLeft) + "\" y=\"" + Num(y - 9) +
                    "\" width=\"12\" height=\"4\" fill=\"" + kDuplexColor + "\"/><text x=\"" +
                    Num(kLeft + 16) + "\" y=\"" + Num(y) + "\">duplex</text>";
  if (!peer.empty()) {
    out += "<rect x=\"" + Num(kLeft + 80) + "\" y=\"" + Num(y - 9) +
           "\" width=\"12\" height=\"4\" fill=\"" + kPeerColor + "\"/><text x=\"" +
           Num(kLeft + 96) + "\" y=\"" + Num(y) + "\">" + HtmlEscape(peer) + "</text>";
  }
  return out;
}

// Cumulative distribution on a log time axis: where most requests sit and how long the
// tail is, both sides on one scale.
std::string CdfChart(const std::string& name, const std::vector<double>* duplex,
                     const std::vector<double>* peer, const std::string& peer_name) {
  constexpr double kTop = 30, kBottom = 230, kHeight = 270;
  double lo = 1e300, hi = 0;
  for (const auto* series : {duplex, peer}) {
    if (series == nullptr) continue;
    for (double v : *series) {
      if (v <= 0) continue;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  if (hi <= 0) return "";
  double l0 = std::floor(std::log10(lo)), l1 = std::ceil(std::log10(hi));
  if (l1 <= l0) l1 = l0 + 1;
  auto x = [&](double v) {
    return kLeft + (std::log10(std::max(v, lo)) - l0) / (l1 - l0) * (kRight - kLeft);
  };
  auto y = [&](double q) { return kBottom - q * (kBottom - kTop); };
  std::string svg = "<h3>" + HtmlEscape(name) + "</h3>\n<svg width=\"" + Num(kWidth) +
                    "\" height=\"" + Num(kHeight) + "\" viewBox=\"0 0 " + Num(kWidth) + " " +
                    Num(kHeight) + "\">\n";
  for (double d = l0; d <= l1; ++d) {
    double px = x(std::pow(10, d));
    svg += "<line class=\"grid\" x1=\"" + Num(px) + "\" y1=\"" + Num(kTop) + "\" x2=\"" + Num(px) +
           "\" y2=\"" + Num(kBottom) + "\"/><text x=\"" + Num(px) + "\" y=\"" + Num(kBottom + 14) +
           "\" text-anchor=\"middle\">" + Num(std::pow(10, d)) + " ms</text>\n";
  }
  for (double q : {0.0, 0.5, 0.9, 0.99, 1.0}) {
    svg += "<line class=\"grid\" x1=\"" + Num(kLeft) + "\" y1=\"" + Num(y(q)) + "\" x2=\"" +
           Num(kRight) + "\" y2=\"" + Num(y(q)) + "\"/><text x=\"" + Num(kLeft - 6) + "\" y=\"" +
           Num(y(q) + 4) + "\" text-anchor=\"end\">p" + Num(q * 100, "%.0f") + "</text>\n";
  }
  auto line = [&](const std::vector<double>* series, const char* color) {
    if (series == nullptr || series->empty()) return;
    std::vector<double> v = *series;
    std::sort(v.begin(), v.end());
    svg += "<polyline fill=\"none\" stroke=\"" + std::string(color) +
           "\" stroke-width=\"2\" points=\"";
    for (size_t i = 0; i < v.size(); ++i) {
      svg += Num(x(v[i]), "%.1f") + "," +
             Num(y(static_cast<double>(i + 1) / static_cast<double>(v.size())), "%.1f") + " ";
    }
    svg += "\"/>\n";
  };
  line(duplex, kDuplexColor);
  line(peer, kPeerColor);
  svg += Legend(kHeight - 8, peer == nullptr ? "" : peer_name);
  return svg + "</svg>\n";
}

// One bar per run, from the fault (0) to the first acknowledged write after it, on a
// linear axis shared by both sides: the picture of "how long were clients refused".
std::string TimelineChart(const std::string& name, const std::vector<double>* duplex,
                          const std::vector<double>* peer, const std::string& peer_name) {
  constexpr double kTop = 20, kRow = 11;
  double hi = 0;
  size_t rows = 0;
  for (const auto* series : {duplex, peer}) {
    if (series == nullptr) continue;
    rows += series->size();
    for (double v : *series) hi = std::max(hi, v);
  }
  if (rows == 0 || hi <= 0) return "";
  double height = kTop + kRow * static_cast<double>(rows) + 50;
  auto x = [&](double v) { return kLeft + v / hi * (kRight - kLeft - 60); };
  std::string svg = "<h3>" + HtmlEscape(name) + "</h3>\n<svg width=\"" + Num(kWidth) +
                    "\" height=\"" + Num(height) + "\" viewBox=\"0 0 " + Num(kWidth) + " " +
                    Num(height) + "\">\n";
  double row_y = kTop;
  auto bars = [&](const std::vector<double>* series, const char* color, const std::string& who) {
    if (series == nullptr) return;
    for (size_t i = 0; i < series->size(); ++i) {
      double v = (*series)[i];
      svg += "<rect x=\"" + Num(kLeft) + "\" y=\"" + Num(row_y) + "\" width=\"" +
             Num(std::max(1.5, x(v) - kLeft)) + "\" height=\"" + Num(kRow - 3) + "\" fill=\"" +
             color + "\"><title>" + HtmlEscape(who) + " run " + std::to_string(i + 1) + ": " +
             Num(v) + " ms</title></rect><text x=\"" + Num(x(v) + 4) + "\" y=\"" +
             Num(row_y + kRow - 3) + "\">" + Num(v, "%.1f") + " ms</text>\n";
      row_y += kRow;
    }
  };
  bars(duplex, kDuplexColor, "duplex");
  bars(peer, kPeerColor, peer_name);
  svg += "<line class=\"axis\" x1=\"" + Num(kLeft) + "\" y1=\"" + Num(kTop - 4) + "\" x2=\"" +
         Num(kLeft) + "\" y2=\"" + Num(row_y) + "\"/><text x=\"" + Num(kLeft) + "\" y=\"" +
         Num(row_y + 16) + "\" text-anchor=\"middle\">fault</text>\n";
  svg += Legend(height - 8, peer == nullptr ? "" : peer_name);
  return svg + "</svg>\n";
}

const std::vector<double>* Lookup(const std::map<std::string, std::vector<double>>& m,
                                  const std::string& name) {
  auto it = m.find(name);
  return it == m.end() ? nullptr : &it->second;
}

}  // namespace

std::string RenderBenchReport(const Figures& figures, const std::string& peer_name,
                              const std::string& command, const std::string& appendix_html) {
  std::string html =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>duplex benchmarks</title>\n"
      "<style>body{font:14px sans-serif;margin:24px;max-width:1100px}"
      "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;"
      "text-align:left}.range{color:#777;font-size:12px}.good{background:#dff3df}"
      ".bad{background:#f8dede}svg text{font:11px sans-serif}.grid{stroke:#e4e4e4}"
      ".axis{stroke:#333}code{background:#f4f4f4;padding:2px 4px}</style></head><body>\n"
      "<h1>duplex benchmarks</h1>\n<p>Produced by <code>" +
      HtmlEscape(command) +
      "</code>. Every figure is the median of its runs, with min – max; ratios compare "
      "medians from this one run on this one machine.</p>\n";
  nlohmann::json headlines = Headlines(figures);
  if (!headlines.empty()) {
    html += "<ul>\n";
    for (const auto& [k, v] : headlines.items()) {
      html += "<li>" + HtmlEscape(k) + ": <b>" + Num(v.get<double>(), "%.3g") + "</b></li>\n";
    }
    html += "</ul>\n";
  }
  html += Table(figures, peer_name);
  if (!figures.notes().empty()) {
    html += "<h2>Setup</h2>\n<ul>\n";
    for (const auto& [k, v] : figures.notes()) {
      html += "<li>" + HtmlEscape(k) + ": " + HtmlEscape(v) + "</li>\n";
    }
    html += "</ul>\n";
  }
  std::vector<std::string> names;
  for (Side side : {Side::kDuplex, Side::kPeer}) {
    for (const auto& [name, values] : figures.series(side)) {
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
  }
  if (!names.empty()) html += "<h2>Charts</h2>\n";
  for (const auto& name : names) {
    auto* d = Lookup(figures.series(Side::kDuplex), name);
    auto* p = Lookup(figures.series(Side::kPeer), name);
    html += name.rfind("failover", 0) == 0 || name.rfind("switchover", 0) == 0
                ? TimelineChart(name, d, p, peer_name)
                : CdfChart(name, d, p, peer_name);
  }
  return html + appendix_html + "</body></html>\n";
}

Status WriteBenchReport(const Figures& figures, const std::string& peer_name,
                        const std::string& command, const std::string& path,
                        const std::string& appendix_html) {
  std::ofstream out(path);
  if (!out) return IOError("cannot write the report to " + path);
  out << RenderBenchReport(figures, peer_name, command, appendix_html);
  out.close();
  if (!out) return IOError("cannot write the report to " + path);
  return Status::Ok();
}

std::string ProfileHtml(const nlohmann::json& profile, const std::string& svg,
                        const std::string& svg_path) {
  std::string html =
      "<h2>Profile: where the CPU of a write goes</h2>\n<p>perf on each replica during one extra "
      "load (sync, 50 clients), not counted in the figures above. A sample goes to the first "
      "frame from the leaf that a component claims (a malloc called by Cap'n Proto is "
      "allocation; a system call is its caller's).</p>\n";
  for (const auto& [who, p] : profile.items()) {
    if (!p.is_object() || !p.contains("components")) continue;
    html += "<h3>" + HtmlEscape(who) + ": " + Num(p.value("cpu_us_per_write", -1.0), "%.1f") +
            " µs CPU per write, " + Num(p.value("context_switches_per_write", -1.0), "%.2f") +
            " context switches and " + Num(p.value("syscalls_per_write", -1.0), "%.2f") +
            " system calls per write, " + Num(p.value("kernel_percent", 0.0), "%.0f") +
            "% in the kernel (" + Num(p.value("writes_per_s", 0.0), "%.0f") +
            " writes/s under perf)</h3>\n<table><tr><th>component</th><th>share</th><th>µs per "
            "write</th></tr>\n";
    for (const auto& row : p["components"]) {
      html += "<tr><td>" + HtmlEscape(row.value("name", "")) + "</td><td>" +
              Num(row.value("percent", 0.0), "%.1f") + "%</td><td>" +
              Num(row.value("us_per_write", -1.0), "%.2f") + "</td></tr>\n";
    }
    html += "</table>\n";
  }
  if (!svg.empty()) {
    html += "<h3>Flame graph of the active (<a href=\"" + HtmlEscape(svg_path) + "\">" +
            HtmlEscape(svg_path) + "</a>)</h3>\n<div style=\"overflow-x:auto\">" + svg + "</div>\n";
  }
  return html;
}

}  // namespace duplex::bench
