#include "bench/figures.h"

#include <gtest/gtest.h>

#include <sstream>

#include "bench/report.h"
#include "bench/suite.h"

namespace duplex::bench {
namespace {

TEST(Spread, MinMedianMaxOfUnsortedSamples) {
  Spread s = SpreadOf({5, 1, 3});
  EXPECT_EQ(s.min, 1);
  EXPECT_EQ(s.median, 3);
  EXPECT_EQ(s.max, 5);
  EXPECT_EQ(SpreadOf({4, 1, 3, 2}).median, 2.5);
  EXPECT_EQ(SpreadOf({}).n, 0u);
  EXPECT_EQ(Quantile({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.5), 6);
  EXPECT_EQ(Quantile({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.99), 10);
}

TEST(Figures, RatiosAreMediansOfOneRunAndHeadlinesFaceTheRightWay) {
  Figures f;
  f.At("crash_failover_ms", "crash failover", "ms", Better::kLower, "Sentinel");
  for (double v : {10.0, 12.0, 11.0}) f.Add("crash_failover_ms", Side::kDuplex, v);
  for (double v : {1300.0, 1100.0, 1200.0}) f.Add("crash_failover_ms", Side::kPeer, v);
  f.At("sync_50c_writes_per_s", "sync writes/s", "1/s", Better::kHigher, "SET + WAIT 1 0");
  f.Add("sync_50c_writes_per_s", Side::kDuplex, 30000);
  f.Add("sync_50c_writes_per_s", Side::kPeer, 20000);
  f.Add("memory_total_mb", Side::kDuplex, 50);  // no peer sample: no ratio
  EXPECT_DOUBLE_EQ(f.Find("crash_failover_ms")->Ratio(), 11.0 / 1200.0);
  auto headlines = Headlines(f);
  EXPECT_DOUBLE_EQ(headlines["crash_failover_speedup"].get<double>(), 1200.0 / 11.0);
  EXPECT_DOUBLE_EQ(headlines["sync_throughput_ratio"].get<double>(), 1.5);
  EXPECT_FALSE(headlines.contains("memory_ratio"));

  auto json = f.Json("redis");
  EXPECT_EQ(json["peer"], "redis");
  EXPECT_DOUBLE_EQ(json["figures"]["crash_failover_ms"]["redis"]["median"].get<double>(), 1200);
  EXPECT_EQ(json["figures"]["crash_failover_ms"]["duplex"]["samples"].size(), 3u);
  EXPECT_EQ(json["figures"]["crash_failover_ms"]["redis_ran"], "Sentinel");
  EXPECT_TRUE(json.contains("crash_failover_speedup"));

  std::ostringstream table;
  f.PrintTable(table, "redis");
  EXPECT_NE(table.str().find("10 / 11 / 12"), std::string::npos) << table.str();
  EXPECT_NE(table.str().find("crash_failover_speedup"), std::string::npos);
}

// Issue 22's names: each a ratio duplex / peer of medians from one run.
TEST(Figures, IssueTwentyTwoRatiosAreNamedAsTheIssueNamesThem) {
  Figures f;
  auto both = [&](const std::string& key, std::vector<double> duplex, std::vector<double> peer) {
    for (double v : duplex) f.Add(key, Side::kDuplex, v);
    for (double v : peer) f.Add(key, Side::kPeer, v);
  };
  both("sync_50c_cpu_us_per_write", {30, 26, 28}, {25, 20, 30});
  both("sync_50c_writes_per_s", {24000}, {20000});
  both("async_50c_writes_per_s", {30000}, {25000});
  both("sync_50c_p16_writes_per_s", {90000}, {36000});
  both("sync_1c_latency_ms_p50", {0.3}, {0.5});
  nlohmann::json h = Headlines(f);
  EXPECT_DOUBLE_EQ(h["cpu_per_write_ratio"].get<double>(), 28.0 / 25.0);
  EXPECT_DOUBLE_EQ(h["sync_throughput_ratio"].get<double>(), 1.2);
  EXPECT_DOUBLE_EQ(h["async_throughput_ratio"].get<double>(), 1.2);
  EXPECT_DOUBLE_EQ(h["pipelined_throughput_ratio"].get<double>(), 2.5);
  EXPECT_DOUBLE_EQ(h["latency_1c_p50_ratio"].get<double>(), 0.6);
  EXPECT_TRUE(f.Json("redis-fsync").contains("cpu_per_write_ratio"));
  EXPECT_FALSE(Headlines(Figures()).contains("cpu_per_write_ratio"));  // no samples, no ratio
}

TEST(Figures, UpgradeGapIsJudgedAgainstSteadyGapPlusTwoSwitchovers) {
  Figure switchover;
  switchover.duplex = {7, 5, 6};
  nlohmann::json j = UpgradeHeadlines(25, 12, &switchover);
  EXPECT_DOUBLE_EQ(j["unavailability_ms"].get<double>(), 25);
  EXPECT_DOUBLE_EQ(j["steady_longest_gap_ms"].get<double>(), 12);
  EXPECT_DOUBLE_EQ(j["switchover_p50_ms"].get<double>(), 6);
  EXPECT_DOUBLE_EQ(j["upgrade_gap_bound_ms"].get<double>(), 24);
  EXPECT_FALSE(j["upgrade_gap_within_bound"].get<bool>());
  EXPECT_TRUE(UpgradeHeadlines(24, 12, &switchover)["upgrade_gap_within_bound"].get<bool>());
  nlohmann::json alone = UpgradeHeadlines(25, 12, nullptr);  // no switchover ran
  EXPECT_FALSE(alone.contains("switchover_p50_ms"));
  EXPECT_FALSE(alone.contains("upgrade_gap_within_bound"));
}

// The secure benchmark's Redis comparison: the first side named redis-tls, in the table and
// in the JSON.
TEST(Figures, TheFirstSideTakesTheNameItIsGiven) {
  Figures f;
  f.SetName("redis-tls");
  f.At("sync_50c_writes_per_s", "sync writes/s", "1/s", Better::kHigher);
  f.Add("sync_50c_writes_per_s", Side::kDuplex, 15000);
  f.Add("sync_50c_writes_per_s", Side::kPeer, 30000);
  auto json = f.Json("redis");
  EXPECT_DOUBLE_EQ(json["figures"]["sync_50c_writes_per_s"]["redis-tls"]["median"].get<double>(),
                   15000);
  EXPECT_FALSE(json["figures"]["sync_50c_writes_per_s"].contains("duplex"));
  EXPECT_DOUBLE_EQ(json["sync_throughput_ratio"].get<double>(), 0.5);
  std::ostringstream table;
  f.PrintTable(table, "redis");
  EXPECT_NE(table.str().find("redis-tls/redis"), std::string::npos) << table.str();
  EXPECT_EQ(table.str().find("duplex"), std::string::npos) << table.str();
}

// --secure measures replication only, and is refused, naming what it measures, before
// anything starts.
TEST(SuiteOptions, FlameProfilesTheReplicationLoadOnly) {
  SuiteOptions o;
  o.what = "switchover";
  o.flame_path = "/nonexistent/flame.svg";
  o.dir = "/nonexistent/never-created";
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(RunSuite(o), 2);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("--flame profiles the replication load"), std::string::npos) << err;
}

TEST(SuiteOptions, SecureGoesWithReplicationOnly) {
  SuiteOptions o;
  o.what = "failover";
  o.secure = true;
  o.dir = "/nonexistent/never-created";
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(RunSuite(o), 2);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("--secure measures replication"), std::string::npos) << err;
}

TEST(Figures, SeriesAreThinnedToAChartableSize) {
  Figures f;
  std::vector<double> many(100000, 1.0);
  f.AddSeries("latency", Side::kDuplex, many);
  EXPECT_LE(f.series(Side::kDuplex).at("latency").size(), 4000u);
  EXPECT_GE(f.series(Side::kDuplex).at("latency").size(), 3000u);
}

TEST(BenchReport, TableChartsAndEscapedText) {
  Figures f;
  f.At("switchover_unavailability_ms", "switchover <planned>", "ms", Better::kLower, "FAILOVER");
  f.Add("switchover_unavailability_ms", Side::kDuplex, 20);
  f.Add("switchover_unavailability_ms", Side::kPeer, 900);
  f.AddSeries("latency sync 50 clients", Side::kDuplex, {0.5, 1, 2, 4});
  f.AddSeries("latency sync 50 clients", Side::kPeer, {1, 2, 8});
  f.AddSeries("failover crash", Side::kDuplex, {9, 11});
  f.AddSeries("failover crash", Side::kPeer, {1200});
  f.Note("redis", "7.0.15 & <sentinel>");
  std::string html = RenderBenchReport(f, "redis", "duplex bench all --peer redis");
  EXPECT_NE(html.find("switchover &lt;planned&gt;"), std::string::npos);
  EXPECT_NE(html.find("7.0.15 &amp; &lt;sentinel&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<sentinel>"), std::string::npos);
  EXPECT_NE(html.find("<polyline"), std::string::npos);       // the latency CDF
  EXPECT_NE(html.find("run 1: 1200 ms"), std::string::npos);  // a failover timeline bar
  EXPECT_NE(html.find("switchover_speedup"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
}

}  // namespace
}  // namespace duplex::bench
