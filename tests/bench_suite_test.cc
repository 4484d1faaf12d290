// `duplex bench` end to end, small: every benchmark kind runs once on duplex and on the
// Redis peer, and the JSON and the report carry what the README promises. Figures are
// printed by the suite, never asserted on (a loaded CI machine decides them); what is
// asserted is that both sides were measured, that duplex lost nothing, and the shape.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "bench/suite.h"
#include "tests/test_support.h"

namespace duplex {
namespace {

std::string BuildDir() {
  const char* env = std::getenv("DUPLEX_BUILD_DIR");
  return env != nullptr ? env : "build";
}

nlohmann::json RunBench(bench::SuiteOptions o) {
  std::string dir = testing::ScratchDir();
  std::filesystem::create_directories(dir);
  o.build_dir = BuildDir();
  o.dir = dir + "/scratch";
  o.json_path = dir + "/out.json";
  o.report_path = dir + "/report.html";
  o.command = "duplex bench " + o.what;
  EXPECT_EQ(bench::RunSuite(o), 0) << o.what;
  std::ifstream in(o.json_path);
  nlohmann::json out = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  std::stringstream html;
  html << std::ifstream(o.report_path).rdbuf();
  EXPECT_NE(html.str().find("<table>"), std::string::npos);
  std::filesystem::remove_all(dir);
  return out;
}

void ExpectBothSides(const nlohmann::json& out, const std::string& figure,
                     const std::string& peer = "redis") {
  ASSERT_TRUE(out["figures"].contains(figure)) << figure;
  const auto& f = out["figures"][figure];
  EXPECT_TRUE(f.contains("duplex")) << figure;
  EXPECT_TRUE(f.contains(peer)) << figure;
  EXPECT_TRUE(f.contains("ratio")) << figure;
}

// One short run of `bench replication` (the cases in `only`, every case when empty).
bench::SuiteOptions ShortReplication(const std::string& peer, const std::string& only) {
  bench::SuiteOptions o;
  o.what = "replication";
  o.peer = peer;
  o.only = only;
  o.runs = 1;
  o.seconds = 0.3;
  return o;
}

TEST(BenchSuite, ReplicationAndSwitchoverSideBySideWithRedis) {
  bench::SuiteOptions o = ShortReplication("redis", "");
  auto out = RunBench(o);
  ASSERT_TRUE(out.is_object());
  EXPECT_EQ(out["peer"], "redis");
  for (const char* f :
       {"sync_50c_writes_per_s", "async_50c_writes_per_s", "sync_1c_latency_ms_p99",
        "sync_50c_p16_writes_per_s", "async_1c_lag_ms_p50", "sync_50c_cpu_us_per_write"}) {
    ExpectBothSides(out, f);
  }
  // The replicas and the coordinator did spend CPU on those writes, and it was counted.
  EXPECT_GT(out["figures"]["sync_50c_cpu_us_per_write"]["duplex"]["median"].get<double>(), 0);
  EXPECT_TRUE(out.contains("sync_throughput_ratio"));
  EXPECT_TRUE(out.contains("async_throughput_ratio"));

  o.what = "switchover";
  out = RunBench(o);
  ASSERT_TRUE(out.is_object());
  ExpectBothSides(out, "switchover_unavailability_ms");
  EXPECT_TRUE(out.contains("switchover_speedup"));
  EXPECT_EQ(out["lost_acknowledged_writes"], 0);  // duplex's
}

TEST(BenchSuite, TheFsyncingRedisPeerIsNamedAndDescribedAsSuch) {
  auto out = RunBench(ShortReplication("redis-fsync", "sync_50c"));
  ASSERT_TRUE(out.is_object());
  EXPECT_EQ(out["peer"], "redis-fsync");
  ExpectBothSides(out, "sync_50c_writes_per_s", "redis-fsync");
  ExpectBothSides(out, "sync_50c_cpu_us_per_write", "redis-fsync");
  EXPECT_NE(out["notes"]["redis-fsync"].get<std::string>().find("appendfsync always"),
            std::string::npos);
}

TEST(BenchSuite, UpgradeOfALoadedPairReportsIssueThreesFigures) {
  bench::SuiteOptions o;
  o.what = "upgrade";
  o.keys = 5000;
  o.steady_seconds = 0.5;
  auto out = RunBench(o);
  ASSERT_TRUE(out.is_object());
  EXPECT_EQ(out["outcome"], "completed");
  EXPECT_EQ(out["keys"], 5000);
  for (const char* k :
       {"duration_ms", "unavailability_ms", "failed_requests", "unavailability_in_switchovers",
        "steady_longest_gap_ms", "gap_by_step_ms"}) {
    EXPECT_TRUE(out.contains(k)) << k;
  }
  EXPECT_EQ(out["lost_acknowledged_writes"], 0);
  EXPECT_EQ(out["failed_requests"], 0);
}

TEST(BenchSuite, OnlyRunsTheReplicationCasesItNames) {
  auto out = RunBench(ShortReplication("", "sync_1c,async_50c_p16"));
  ASSERT_TRUE(out.is_object());
  EXPECT_TRUE(out["figures"].contains("sync_1c_writes_per_s"));
  EXPECT_TRUE(out["figures"].contains("async_50c_p16_writes_per_s"));
  for (const char* f : {"sync_1c_p16_writes_per_s", "sync_50c_writes_per_s",
                        "async_1c_writes_per_s", "async_50c_writes_per_s"}) {
    EXPECT_FALSE(out["figures"].contains(f)) << f;
  }
}

// One leader failover and the combined failure on a lab of three hosts with etcd (~15 s):
// the figures the issue names are there and nothing acknowledged was lost.
TEST(BenchSuite, CoordinatorLeaderFailoverOnThreeHostsWithEtcd) {
  bench::SuiteOptions o;
  o.what = "coordinator";
  o.trials = 1;
  o.lab_first_host = 61;  // 127.0.61.1 .. 127.0.63.1: no other test's lab
  auto out = RunBench(o);
  ASSERT_TRUE(out.is_object());
  EXPECT_EQ(out["leader_failover_ms"]["samples"].size(), 1u);
  for (const char* k :
       {"client_gap_during_leader_failover_ms", "steady_gap_ms", "client_gap_ratio",
        "failover_during_leader_failover_ms", "speedup_vs_patroni_tuned", "patroni", "targets"}) {
    EXPECT_TRUE(out.contains(k)) << k;
  }
  EXPECT_TRUE(out["failover_during_leader_failover_ms"].is_number());
  EXPECT_EQ(out["lost_writes"], 0);
}

TEST(BenchSuite, UnknownBenchmarksPeersAndCasesAreRefusedByName) {
  bench::SuiteOptions o;
  o.what = "throughput";
  EXPECT_EQ(bench::RunSuite(o), 2);
  o.what = "failover";
  o.peer = "etcd";
  EXPECT_EQ(bench::RunSuite(o), 2);
  o.what = "replication";
  o.peer = "";
  o.only = "sync_50c,sync_5c";
  EXPECT_EQ(bench::RunSuite(o), 2);
}

}  // namespace
}  // namespace duplex
