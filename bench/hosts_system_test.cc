// The two-host benchmark's pure parts: fault names, the lab's addresses and ports, and the
// issue's targets judged on figures.
#include "bench/hosts_system.h"

#include <gtest/gtest.h>

#include <sstream>

#include "bench/suite.h"

namespace duplex::bench {
namespace {

TEST(HostFaultKey, SpellsTheFiguresAsTheIssueDoes) {
  EXPECT_STREQ(HostFaultKey(HostFault::kHostCrash), "host_crash");
  EXPECT_STREQ(HostFaultKey(HostFault::kHostFreeze), "host_freeze");
  EXPECT_STREQ(HostFaultKey(HostFault::kProcessCrash), "remote_process_crash");
}

TEST(LabAddress, CountsHostsFromTheFirstOne) {
  LabOptions o;
  o.first_host = 21;
  EXPECT_EQ(LabAddress(o, 0), "127.0.21.1");
  EXPECT_EQ(LabAddress(o, 2), "127.0.23.1");
}

TEST(PortSource, HandsOutConsecutivePortsFromTheFirstOrFreeOnes) {
  PortSource given(27000);
  EXPECT_EQ(given.Next(), 27000);
  EXPECT_EQ(given.Next(), 27001);
  PortSource picked(0);
  const int a = picked.Next();
  const int b = picked.Next();
  EXPECT_GT(a, 0);
  EXPECT_NE(a, b);
}

Figures TwoHostFigures(std::vector<double> crash_ms, std::vector<double> peer_crash_ms,
                       std::vector<double> lost) {
  Figures f;
  f.At("host_crash_failover_ms", "host crash", "ms", Better::kLower);
  f.At("host_crash_lost_writes", "lost", "writes", Better::kLower);
  for (double v : crash_ms) f.Add("host_crash_failover_ms", Side::kDuplex, v);
  for (double v : peer_crash_ms) f.Add("host_crash_failover_ms", Side::kPeer, v);
  for (double v : lost) f.Add("host_crash_lost_writes", Side::kDuplex, v);
  return f;
}

TEST(HostTargets, MetWhenP99IsUnderTheTargetFiveTimesFasterAndNothingLost) {
  Figures f = TwoHostFigures({300, 310, 320, 330}, {2000, 2100, 2200, 2300}, {0, 0, 0, 0});
  nlohmann::json t = HostTargets(f);
  ASSERT_TRUE(t.contains("host_crash_failover_ms")) << t.dump();
  const nlohmann::json& crash = t["host_crash_failover_ms"];
  EXPECT_EQ(crash["p99_ms"], 330);
  EXPECT_EQ(crash["p99_target_ms"], 400);
  EXPECT_TRUE(crash["p99_met"]);
  EXPECT_NEAR(crash["speedup"].get<double>(), 2150.0 / 315.0, 1e-9);  // ratio of medians
  EXPECT_TRUE(crash["speedup_met"]);
  EXPECT_EQ(crash["lost_writes"], 0);
  EXPECT_TRUE(crash["lost_met"]);
  // No samples, no verdict: the freeze and the process crash did not run.
  EXPECT_FALSE(t.contains("host_freeze_failover_ms"));
  EXPECT_FALSE(t.contains("remote_process_crash_failover_ms"));
}

TEST(HostTargets, MissedByOneSlowRunALostWriteOrASlowPeerRatio) {
  Figures f = TwoHostFigures({300, 310, 320, 900}, {1000, 1000, 1000, 1000}, {0, 2, 0, 1});
  const nlohmann::json crash = HostTargets(f)["host_crash_failover_ms"];
  EXPECT_EQ(crash["p99_ms"], 900);  // nearest rank: the worst of four runs
  EXPECT_FALSE(crash["p99_met"]);
  EXPECT_FALSE(crash["speedup_met"]);  // 1000 / 315: about 3x
  EXPECT_EQ(crash["lost_writes"], 3);
  EXPECT_FALSE(crash["lost_met"]);
}

TEST(HostTargets, TheRemoteProcessCrashTargetIsTwentyMsAndNoPeerMeansNoSpeedup) {
  Figures f;
  f.Add("remote_process_crash_failover_ms", Side::kDuplex, 12);
  const nlohmann::json t = HostTargets(f)["remote_process_crash_failover_ms"];
  EXPECT_EQ(t["p99_target_ms"], 20);
  EXPECT_TRUE(t["p99_met"]);
  EXPECT_FALSE(t.contains("speedup"));
}

TEST(Headlines, TwoHostSpeedupsAreThePeersMedianOverDuplexs) {
  Figures f = TwoHostFigures({100, 200, 300}, {1000, 2000, 3000}, {});
  nlohmann::json j = f.Json("redis");
  EXPECT_DOUBLE_EQ(j["host_crash_failover_speedup"].get<double>(), 10.0);
  const nlohmann::json& duplex = j["figures"]["host_crash_failover_ms"]["duplex"];
  EXPECT_EQ(duplex["p50"], 200);
  EXPECT_EQ(duplex["p99"], 300);
  EXPECT_EQ(duplex["max"], 300);
}

TEST(CoordinatorTimesAfter, FindsTheOldActiveDownAndTheNextActiveAfterTheFault) {
  std::istringstream log(R"({"kind":"replica","replica":"a","alive":false,"t_us":50})"
                         "\n"
                         R"({"kind":"cluster","active":"b","epoch":2,"t_us":60})"
                         "\n"
                         "not json\n"
                         R"({"kind":"replica","replica":"b","alive":false,"t_us":1010})"
                         "\n"
                         R"({"kind":"replica","replica":"a","alive":false,"t_us":1012})"
                         "\n"
                         R"({"kind":"cluster","active":"a","epoch":3,"t_us":1013})"
                         "\n"
                         R"({"kind":"cluster","active":"","epoch":3,"t_us":1014})"
                         "\n"
                         R"({"kind":"cluster","active":"b","epoch":4,"t_us":1020})"
                         "\n"
                         R"({"kind":"replica","replica":"a","alive":false,"t_us":1030})"
                         "\n");
  // Earlier lines (another trial's) and the other replica's are not this failover's.
  const CoordinatorTimes t = CoordinatorTimesAfter(log, 1000, "a");
  EXPECT_EQ(t.down_us, 1012);
  EXPECT_EQ(t.promoted_us, 1020);
  std::istringstream none(R"({"kind":"cluster","active":"a","t_us":2000})");
  const CoordinatorTimes missing = CoordinatorTimesAfter(none, 1000, "a");
  EXPECT_EQ(missing.down_us, -1);
  EXPECT_EQ(missing.promoted_us, -1);
}

// Refused before anything starts (exit code 2): nothing here runs a deployment.
TEST(RunSuite, RefusesHostsWhereTheyDoNotApply) {
  SuiteOptions o;
  o.what = "replication";
  o.hosts = 2;
  EXPECT_EQ(RunSuite(o), 2);  // two hosts: failover only
  o.what = "failover";
  o.hosts = 3;
  EXPECT_EQ(RunSuite(o), 2);
  o.hosts = 2;
  o.peer = "redis-fsync";
  EXPECT_EQ(RunSuite(o), 2);  // the two-host peer is plain redis
  o.peer = "redis";
  o.lab_first_host = 253;
  EXPECT_EQ(RunSuite(o), 2);  // three hosts do not fit below 127.0.254.1
  o.lab_first_host = 21;
  o.first_port = 80;
  EXPECT_EQ(RunSuite(o), 2);
}

// `bench coordinator` runs on three hosts, without a peer, for 1 to 1000 trials.
TEST(RunSuite, RefusesCoordinatorFlagsThatDoNotApply) {
  SuiteOptions o;
  o.what = "coordinator";
  o.hosts = 2;
  EXPECT_EQ(RunSuite(o), 2);
  o.hosts = 0;
  o.peer = "redis";
  EXPECT_EQ(RunSuite(o), 2);
  o.peer = "";
  o.trials = 0;
  EXPECT_EQ(RunSuite(o), 2);
  o.trials = 1;
  o.lab_first_host = 253;
  EXPECT_EQ(RunSuite(o), 2);
}

}  // namespace
}  // namespace duplex::bench
