#include <gtest/gtest.h>

#include "bench/coordinator_bench.h"

namespace duplex::bench {
namespace {

LeaderFailoverTrial Trial(double failover_ms, double gap_ms, double steady_gap_ms) {
  LeaderFailoverTrial t;
  t.leader_failover_ms = failover_ms;
  t.gap_ms = gap_ms;
  t.steady_gap_ms = steady_gap_ms;
  return t;
}

TEST(CoordinatorFigures, QuantilesWorstGapsRatioAndPatroniAnchor) {
  CoordinatorSamples s;
  for (double ms : {1200.0, 900.0, 1000.0, 1100.0, 1500.0}) s.trials.push_back(Trial(ms, 4, 5));
  s.trials[2].gap_ms = 6;         // the worst failover window of the run
  s.trials[4].steady_gap_ms = 8;  // the worst steady window
  CombinedTrial c;
  c.first_ack_ms = 1800;
  s.combined.push_back(c);
  const nlohmann::json out = CoordinatorFiguresJson(s);
  EXPECT_EQ(out["leader_failover_ms"]["p50"], 1100);  // nearest rank of five
  EXPECT_EQ(out["leader_failover_ms"]["p99"], 1500);
  EXPECT_EQ(out["leader_failover_ms"]["min"], 900);
  EXPECT_EQ(out["leader_failover_ms"]["samples"].size(), 5u);
  EXPECT_EQ(out["client_gap_during_leader_failover_ms"], 6);
  EXPECT_EQ(out["steady_gap_ms"], 8);
  EXPECT_DOUBLE_EQ(out["client_gap_ratio"].get<double>(), 0.75);
  EXPECT_EQ(out["failover_during_leader_failover_ms"], 1800);
  EXPECT_EQ(out["lost_writes"], 0);
  EXPECT_EQ(out["patroni"]["tuned_ms"], 5400);
  EXPECT_EQ(out["patroni"]["defaults_ms"], 20800);
  EXPECT_NE(out["patroni"]["source"].get<std::string>().find("issue 19"), std::string::npos);
  EXPECT_DOUBLE_EQ(out["speedup_vs_patroni_tuned"].get<double>(), 5400.0 / 1100.0);
  EXPECT_DOUBLE_EQ(out["speedup_vs_patroni_defaults"].get<double>(), 20800.0 / 1100.0);
  EXPECT_TRUE(out["targets"]["speedup_vs_patroni_tuned_met"]);  // 4.9x >= 3x
  EXPECT_TRUE(out["targets"]["leader_failover_p99_met"]);       // 1.5 s < 2 s
  EXPECT_TRUE(out["targets"]["client_gap_met"]);
  EXPECT_TRUE(out["targets"]["combined_recovered"]);
}

TEST(CoordinatorFigures, MissedTargetsLossesAndWhatDidNotHappen) {
  CoordinatorSamples s;
  s.trials.push_back(Trial(2500, 30, 0));
  s.trials[0].lost = 2;
  CombinedTrial never;  // no write acknowledged by the other replica
  never.lost = 1;
  s.combined.push_back(never);
  const nlohmann::json out = CoordinatorFiguresJson(s);
  EXPECT_EQ(out["leader_failover_ms"]["p99"], 2500);
  EXPECT_TRUE(out["client_gap_ratio"].is_null());  // a steady window without a gap
  EXPECT_TRUE(out["failover_during_leader_failover_ms"].is_null());
  EXPECT_EQ(out["lost_writes"], 3);
  EXPECT_FALSE(out["targets"]["speedup_vs_patroni_tuned_met"]);  // 2.16x < 3x
  EXPECT_FALSE(out["targets"]["leader_failover_p99_met"]);
  EXPECT_FALSE(out["targets"]["client_gap_met"]);
  EXPECT_FALSE(out["targets"]["lost_writes_met"]);
  EXPECT_FALSE(out["targets"]["combined_recovered"]);

  const nlohmann::json none = CoordinatorFiguresJson({});
  EXPECT_FALSE(none.contains("leader_failover_ms"));
  EXPECT_FALSE(none.contains("speedup_vs_patroni_tuned"));
  EXPECT_FALSE(none.contains("failover_during_leader_failover_ms"));
  EXPECT_EQ(none["patroni"]["tuned_ms"], 5400);
}

}  // namespace
}  // namespace duplex::bench
