// Figures: every number a benchmark run produced, for duplex and for its peer, kept
// as samples so that a noisy machine shows as a spread (min / median / max) and the
// comparison is the ratio of medians measured in the same run.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

namespace duplex::bench {

enum class Side { kDuplex, kPeer };
enum class Better { kHigher, kLower };  // which way is good, for the verdict column

struct Spread {
  double min = 0, median = 0, max = 0;
  size_t n = 0;
};
Spread SpreadOf(std::vector<double> samples);
// The q-quantile (0..1) of samples, by the nearest-rank method; 0 for none.
double Quantile(std::vector<double> samples, double q);

struct Figure {
  std::string key;    // JSON name, e.g. "sync_50c_writes_per_s"
  std::string label;  // for people, e.g. "sync writes/s, 50 clients, unpipelined"
  std::string unit;
  Better better = Better::kHigher;
  std::string peer_label;  // what the peer ran for it, e.g. "SET + WAIT 1 0"
  std::vector<double> duplex, peer;

  // median(duplex) / median(peer); 0 when either side has no sample.
  double Ratio() const;
};

class Figures {
 public:
  // The figure `key`, created with these descriptions on first use.
  Figure& At(const std::string& key, const std::string& label, const std::string& unit,
             Better better, const std::string& peer_label = "");
  void Add(const std::string& key, Side side, double value);
  const Figure* Find(const std::string& key) const;
  const std::vector<Figure>& all() const { return figures_; }

  // Raw distributions for the report's charts (latencies, failover times), capped.
  void AddSeries(const std::string& name, Side side, const std::vector<double>& values);
  const std::map<std::string, std::vector<double>>& series(Side side) const {
    return side == Side::kDuplex ? duplex_series_ : peer_series_;
  }

  // How the first side is named in the table and the JSON: "duplex" unless set (the secure
  // benchmark's Redis comparison names it "redis-tls").
  void SetName(const std::string& name) { name_ = name; }
  const std::string& name() const { return name_; }

  // Facts that are not samples: the peer's version, settings, the machine.
  void Note(const std::string& key, const std::string& value) { notes_[key] = value; }
  const std::map<std::string, std::string>& notes() const { return notes_; }

  // {"figures": {key: {label, unit, duplex: {min, median, max, samples}, peer: ..., ratio}},
  //  "notes": {...}, plus the headline ratios at the top level}. Each side's spread also
  //  carries p50 and p99 (nearest rank).
  nlohmann::json Json(const std::string& peer_name) const;
  void PrintTable(std::ostream& out, const std::string& peer_name) const;

 private:
  std::vector<Figure> figures_;
  std::map<std::string, std::vector<double>> duplex_series_, peer_series_;
  std::map<std::string, std::string> notes_;
  std::string name_ = "duplex";
};

// The headline ratios the issue asks for, computed from the figures (absent when a side
// is missing): crash_failover_speedup, hang_failover_speedup, sync_throughput_ratio,
// async_throughput_ratio, pipelined_throughput_ratio (sync, 50 clients, 16 deep),
// cpu_per_write_ratio (server CPU per write, sync, 50 clients) and latency_1c_p50_ratio (one sync
// client's p50), all duplex / peer; switchover_speedup, memory_ratio, and on two hosts
// host_crash_failover_speedup, host_freeze_failover_speedup,
// remote_process_crash_failover_speedup.
nlohmann::json Headlines(const Figures& figures);

// Issue 22's upgrade figures from one run: unavailability_ms (the campaign's longest gap between
// acknowledged writes), steady_longest_gap_ms (the same load without a campaign just before),
// switchover_p50_ms (the median of the planned switchovers' longest gaps, when any ran), and
// with it upgrade_gap_bound_ms = steady + 2 switchovers' p50 and upgrade_gap_within_bound.
nlohmann::json UpgradeHeadlines(double unavailability_ms, double steady_longest_gap_ms,
                                const Figure* switchover);

}  // namespace duplex::bench
