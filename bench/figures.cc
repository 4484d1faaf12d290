#include "bench/figures.h"

#include <algorithm>
#include <cstdio>

namespace duplex::bench {

namespace {
constexpr size_t kSeriesMax = 4000;  // points kept per chart series

nlohmann::json SpreadJson(const std::vector<double>& samples) {
  Spread s = SpreadOf(samples);
  return {{"min", s.min},
          {"median", s.median},
          {"p50", Quantile(samples, 0.50)},
          {"p99", Quantile(samples, 0.99)},
          {"max", s.max},
          {"samples", samples}};
}

std::string Cell(const std::vector<double>& samples) {
  if (samples.empty()) return "-";
  Spread s = SpreadOf(samples);
  char buf[96];
  if (s.n == 1) {
    std::snprintf(buf, sizeof(buf), "%.4g", s.median);
  } else {
    std::snprintf(buf, sizeof(buf), "%.4g / %.4g / %.4g", s.min, s.median, s.max);
  }
  return buf;
}
}  // namespace

double Quantile(std::vector<double> samples, double q) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  size_t rank = static_cast<size_t>(q * static_cast<double>(samples.size()));
  return samples[std::min(samples.size() - 1, rank)];
}

Spread SpreadOf(std::vector<double> samples) {
  if (samples.empty()) return {};
  std::sort(samples.begin(), samples.end());
  size_t n = samples.size();
  double median = n % 2 == 1 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
  return {samples.front(), median, samples.back(), n};
}

double Figure::Ratio() const {
  if (duplex.empty() || peer.empty()) return 0;
  double p = SpreadOf(peer).median;
  return p == 0 ? 0 : SpreadOf(duplex).median / p;
}

Figure& Figures::At(const std::string& key, const std::string& label, const std::string& unit,
                    Better better, const std::string& peer_label) {
  for (auto& f : figures_) {
    if (f.key == key) return f;
  }
  figures_.push_back({key, label, unit, better, peer_label, {}, {}});
  return figures_.back();
}

void Figures::Add(const std::string& key, Side side, double value) {
  for (auto& f : figures_) {
    if (f.key != key) continue;
    (side == Side::kDuplex ? f.duplex : f.peer).push_back(value);
    return;
  }
  At(key, key, "", Better::kHigher);
  Add(key, side, value);
}

const Figure* Figures::Find(const std::string& key) const {
  for (const auto& f : figures_) {
    if (f.key == key) return &f;
  }
  return nullptr;
}

void Figures::AddSeries(const std::string& name, Side side, const std::vector<double>& values) {
  auto& series = (side == Side::kDuplex ? duplex_series_ : peer_series_)[name];
  // Keep an even sample of a long series: charts need its shape, not every point.
  size_t step = values.size() / kSeriesMax + 1;
  for (size_t i = 0; i < values.size() && series.size() < kSeriesMax; i += step) {
    series.push_back(values[i]);
  }
}

nlohmann::json Figures::Json(const std::string& peer_name) const {
  nlohmann::json figures = nlohmann::json::object();
  for (const auto& f : figures_) {
    nlohmann::json j = {{"label", f.label}, {"unit", f.unit}};
    if (!f.duplex.empty()) j[name_] = SpreadJson(f.duplex);
    if (!f.peer.empty()) {
      j[peer_name] = SpreadJson(f.peer);
      if (!f.peer_label.empty()) j[peer_name + "_ran"] = f.peer_label;
    }
    if (f.Ratio() != 0) j["ratio"] = f.Ratio();
    figures[f.key] = j;
  }
  nlohmann::json out = Headlines(*this);
  out["peer"] = peer_name;
  out["figures"] = figures;
  out["notes"] = notes_;
  return out;
}

void Figures::PrintTable(std::ostream& out, const std::string& peer_name) const {
  char line[512];
  bool peer = !peer_name.empty();
  std::snprintf(line, sizeof(line), "%-44s %-9s %-30s %-30s %s\n", "figure", "unit",
                (name_ + " min / median / max").c_str(),
                peer ? (peer_name + " min / median / max").c_str() : "",
                peer ? (name_ + "/" + peer_name).c_str() : "");
  out << line;
  for (const auto& f : figures_) {
    std::string ratio = "-";
    if (f.Ratio() != 0) {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%.3g", f.Ratio());
      ratio = buf;
    }
    std::snprintf(line, sizeof(line), "%-44s %-9s %-30s %-30s %s\n", f.label.c_str(),
                  f.unit.c_str(), Cell(f.duplex).c_str(), peer ? Cell(f.peer).c_str() : "",
                  peer ? ratio.c_str() : "");
    out << line;
  }
  nlohmann::json headlines = Headlines(*this);
  for (const auto& [k, v] : headlines.items()) {
    std::snprintf(line, sizeof(line), "%-44s %.3g\n", k.c_str(), v.get<double>());
    out << line;
  }
  for (const auto& [k, v] : notes_) out << k << ": " << v << "\n";
}

nlohmann::json Headlines(const Figures& figures) {
  nlohmann::json out = nlohmann::json::object();
  auto ratio = [&](const char* name, const char* key, bool inverse) {
    const Figure* f = figures.Find(key);
    if (f == nullptr || f->Ratio() == 0) return;
    out[name] = inverse ? 1 / f->Ratio() : f->Ratio();
  };
  ratio("crash_failover_speedup", "crash_failover_ms", true);
  ratio("hang_failover_speedup", "hang_failover_ms", true);
  ratio("sync_throughput_ratio", "sync_50c_writes_per_s", false);
  ratio("async_throughput_ratio", "async_50c_writes_per_s", false);
  ratio("pipelined_throughput_ratio", "sync_50c_p16_writes_per_s", false);
  // Server CPU per acknowledged write and one client's latency: duplex / peer, lower is better
  // (issue 22's targets are at most 1 and at most 0.8).
  ratio("cpu_per_write_ratio", "sync_50c_cpu_us_per_write", false);
  ratio("latency_1c_p50_ratio", "sync_1c_latency_ms_p50", false);
  ratio("switchover_speedup", "switchover_unavailability_ms", true);
  ratio("memory_ratio", "memory_total_mb", false);
  ratio("host_crash_failover_speedup", "host_crash_failover_ms", true);
  ratio("host_freeze_failover_speedup", "host_freeze_failover_ms", true);
  ratio("remote_process_crash_failover_speedup", "remote_process_crash_failover_ms", true);
  return out;
}

nlohmann::json UpgradeHeadlines(double unavailability_ms, double steady_longest_gap_ms,
                                const Figure* switchover) {
  nlohmann::json out = {{"unavailability_ms", unavailability_ms},
                        {"steady_longest_gap_ms", steady_longest_gap_ms}};
  if (switchover == nullptr || switchover->duplex.empty()) return out;
  const double p50 = SpreadOf(switchover->duplex).median;
  const double bound = steady_longest_gap_ms + 2 * p50;
  out["switchover_p50_ms"] = p50;
  out["upgrade_gap_bound_ms"] = bound;
  out["upgrade_gap_within_bound"] = unavailability_ms <= bound;
  return out;
}

}  // namespace duplex::bench
