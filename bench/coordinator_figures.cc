// The arithmetic of `bench coordinator`'s figures (bench/coordinator_bench.h): quantiles of the
// leader failovers, the worst gaps, their ratio, the Patroni anchor and the targets.
#include <algorithm>

#include "bench/coordinator_bench.h"
#include "bench/figures.h"

namespace duplex::bench {

nlohmann::json CoordinatorFiguresJson(const CoordinatorSamples& samples) {
  using nlohmann::json;
  std::vector<double> failover_ms;
  double gap_ms = -1, steady_gap_ms = -1;
  uint64_t lost = 0;
  for (const LeaderFailoverTrial& t : samples.trials) {
    if (t.leader_failover_ms >= 0) failover_ms.push_back(t.leader_failover_ms);
    gap_ms = std::max(gap_ms, t.gap_ms);
    steady_gap_ms = std::max(steady_gap_ms, t.steady_gap_ms);
    lost += t.lost;
  }
  double combined_ms = -1;
  bool combined_missing = false;
  for (const CombinedTrial& c : samples.combined) {
    combined_ms = std::max(combined_ms, c.first_ack_ms);
    combined_missing = combined_missing || c.first_ack_ms < 0;
    lost += c.lost;
  }
  json out = json::object();
  const double p50 = Quantile(failover_ms, 0.50), p99 = Quantile(failover_ms, 0.99);
  if (!failover_ms.empty()) {
    const Spread spread = SpreadOf(failover_ms);
    out["leader_failover_ms"] = {{"p50", p50},
                                 {"p99", p99},
                                 {"min", spread.min},
                                 {"max", spread.max},
                                 {"samples", failover_ms}};
  }
  const bool gaps = gap_ms >= 0 && steady_gap_ms >= 0;
  if (gaps) {
    out["client_gap_during_leader_failover_ms"] = gap_ms;
    out["steady_gap_ms"] = steady_gap_ms;
    // A steady window without any gap (every ack within a microsecond) has no ratio.
    out["client_gap_ratio"] = steady_gap_ms > 0 ? json(gap_ms / steady_gap_ms) : json(nullptr);
  }
  if (!samples.combined.empty()) {
    out["failover_during_leader_failover_ms"] =
        combined_missing ? json(nullptr) : json(combined_ms);
  }
  out["lost_writes"] = lost;
  out["patroni"] = {{"tuned_ms", kPatroniTunedMs},
                    {"defaults_ms", kPatroniDefaultsMs},
                    {"source",
                     "issue 19's figures, not measured here: Patroni on etcd, host crash to the "
                     "leader lock changing hands, tuned ttl 5 / loop_wait 1 / retry_timeout 2, "
                     "defaults ttl 30 / loop_wait 10 / retry_timeout 10"}};
  json targets = json::object();
  if (p50 > 0) {
    out["speedup_vs_patroni_tuned"] = kPatroniTunedMs / p50;
    out["speedup_vs_patroni_defaults"] = kPatroniDefaultsMs / p50;
    targets["speedup_vs_patroni_tuned_met"] = kPatroniTunedMs / p50 >= kPatroniSpeedupTarget;
  }
  if (!failover_ms.empty()) targets["leader_failover_p99_met"] = p99 < kLeaderFailoverP99TargetMs;
  if (gaps) targets["client_gap_met"] = gap_ms <= steady_gap_ms;
  targets["lost_writes_met"] = lost == 0;
  if (!samples.combined.empty()) targets["combined_recovered"] = !combined_missing && lost == 0;
  out["targets"] = targets;
  return out;
}

}  // namespace duplex::bench
