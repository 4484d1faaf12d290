#include "chaos/scenario.h"

#include <gtest/gtest.h>

namespace duplex {
namespace {

constexpr char kFull[] = R"(name: kill-active-during-evaluate
description: the new version is killed while it is evaluated
workload: {clients: 4, incr: false}
upgrade: {package: kv-2.0.0, soak: 2s}
faults:
  - {kind: kill, target: active, at: {step: Soak}}
  - {kind: pause, target: standby, at: {after: 1500ms}, duration: 1s}
  - {kind: link, target: replicas, at: {random: [1s, 3s]}, duration: 2s, drop: 0.2, delay: 5ms}
  - {kind: disk, target: b, at: {acked: 500}, duration: 1s, error: nospace}
expect: either
bounds: {run: 20s, converge: 5s}
)";

std::string Error(const std::string& text) {
  auto s = ParseScenario(text, "x.yaml");
  return s.ok() ? "" : s.status().message();
}

std::string Edit(std::string text, const std::string& from, const std::string& to) {
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

TEST(Scenario, ParsesEveryField) {
  auto s = ParseScenario(kFull, "x.yaml");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->clients, 4);
  EXPECT_FALSE(s->incr);
  EXPECT_EQ(s->package, "kv-2.0.0");
  EXPECT_EQ(s->soak_ms, 2000);
  ASSERT_EQ(s->faults.size(), 4u);
  EXPECT_EQ(s->faults[0].at.step, "Soak");
  EXPECT_EQ(*s->faults[1].at.after_ms, 1500);
  EXPECT_EQ(s->faults[1].duration_ms, 1000);
  EXPECT_EQ(s->faults[2].at.random_ms->first, 1000);
  EXPECT_DOUBLE_EQ(s->faults[2].drop, 0.2);
  EXPECT_EQ(s->faults[2].delay_ms, 5);
  EXPECT_EQ(*s->faults[3].at.acked, 500u);
  EXPECT_EQ(s->faults[3].error, "nospace");
  EXPECT_EQ(s->expect, "either");
  EXPECT_EQ(s->run_ms, 20000);
  EXPECT_EQ(s->converge_ms, 5000);
}

TEST(Scenario, NamesTheFieldThatIsWrong) {
  EXPECT_EQ(Error(Edit(kFull, "step: Soak", "step: Sok")),
            "faults[0].at.step: \"Sok\" is not a campaign step");
  EXPECT_EQ(Error(Edit(kFull, "kind: pause", "kind: nap")),
            "faults[1].kind: \"nap\" is not one of kill, pause, power-loss, disk, partition, link, "
            "clock-jump, host-crash, host-freeze, host-isolate, agent-kill, agent-restart, "
            "coordinator-leader-kill, coordinator-leader-freeze, coordinator-isolate, "
            "etcd-member-kill, etcd-quorum-loss, corrupt-at-rest");
  EXPECT_EQ(
      Error(Edit(kFull, "target: replicas", "target: a")),
      "faults[2].target: \"a\" is not a link (replicas, control, control-active, isolate-active)");
  EXPECT_EQ(Error(Edit(kFull, "drop: 0.2", "drop: 2")), "faults[2].drop: must be within 0..1");
  EXPECT_EQ(Error(Edit(kFull, "duration: 1s, error", "error")),
            "faults[3].duration: required for disk");
  EXPECT_EQ(Error(Edit(kFull, "after: 1500ms", "after: soon")),
            "faults[1].at.after: bad duration \"soon\": expected a whole number and a unit: 500ms, "
            "5s, 2m or 1h");
  EXPECT_EQ(Error(Edit(kFull, "expect: either", "expect: maybe")),
            "expect: \"maybe\" is not completed, rolled_back, either or none");
  EXPECT_EQ(Error(Edit(kFull, "bounds:", "bound:")), "bound: unknown field");
  EXPECT_EQ(Error(Edit(kFull, "name: kill-active-during-evaluate", "name: Bad Name")),
            "name: required: lower-case letters, digits and '-'");
  EXPECT_EQ(Error(Edit(kFull, "at: {acked: 500}", "at: {acked: 500, after: 1s}")),
            "faults[3].at: exactly one of after, step, acked, random");
  EXPECT_NE(Error("name: [unclosed").find("not YAML"), std::string::npos);
}

TEST(Scenario, RefusesAFieldWrittenTwiceAndARandomPairThatIsNotTwoDurations) {
  EXPECT_EQ(Error(Edit(kFull, "clients: 4,", "clients: 4, clients: 5,")),
            "workload.clients: appears twice");
  EXPECT_EQ(Error(Edit(kFull, "random: [1s, 3s]", "random: [1s, {to: 3s}]")),
            "faults[2].at.random: a [from, to] pair of durations, from <= to");
}

TEST(Scenario, ReadersMayBeBoundToOneReplicaAndTheWritersToTheOther) {
  auto s = ParseScenario(Edit(kFull, "clients: 4,", "clients: 2, readers: 1, pin_readers: active,"),
                         "x.yaml");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->readers, 1);
  EXPECT_EQ(s->pin_readers, "active");
  EXPECT_EQ(Error(Edit(kFull, "clients: 4,", "clients: 4, readers: 1, pin_readers: a,")),
            "workload.pin_readers: \"a\" is not active or standby");
  EXPECT_EQ(Error(Edit(kFull, "clients: 4,", "clients: 4, pin_readers: standby,")),
            "workload.pin_readers: needs readers, on one host (no hosts:)");
  EXPECT_EQ(Error(Edit(kFull, "clients: 4,", "clients: 4, readers: -1,")),
            "workload.readers: must be within 0..64");
}

TEST(Scenario, ATornKillIsOfTheCoordinatorAfterAKnownWrite) {
  std::string torn =
      Edit(kFull, "{kind: kill, target: active, at: {step: Soak}}",
           "{kind: kill, target: coordinator, torn: reload, nth: 2, at: {step: Soak}}");
  auto s = ParseScenario(torn, "x.yaml");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->faults[0].torn, "reload");
  EXPECT_EQ(s->faults[0].nth, 2);
  EXPECT_EQ(Error(Edit(torn, "target: coordinator", "target: a")),
            "faults[0].torn: only a kill of the coordinator can be torn");
  EXPECT_EQ(Error(Edit(torn, "torn: reload", "torn: later")),
            "faults[0].torn: \"later\" is not any, reload, epoch or finalize");
  EXPECT_EQ(Error(Edit(torn, "nth: 2", "nth: 0")), "faults[0].nth: must be 1 or more");
  EXPECT_EQ(Error(Edit(torn, "nth: 2", "down: 1s")),
            "faults[0].down: a torn kill restarts at once");
}

TEST(Scenario, AStepTriggerNeedsAnUpgradeAndExpectMatchesIt) {
  std::string plain = "name: plain\nfaults:\n  - {kind: kill, target: a, at: {step: Soak}}\n";
  EXPECT_EQ(Error(plain), "faults[0].at.step: needs an upgrade section");
  EXPECT_EQ(Error("name: x\nupgrade: {package: kv-2.0.0}\n"),
            "expect: an upgrade needs completed, rolled_back or either");
}

constexpr char kHosts[] = R"(name: hosts
hosts: 2
workload: {clients: 3}
faults:
  - {kind: host-crash, target: active-host, at: {after: 1s}, down: 2s}
  - {kind: host-freeze, target: standby-host, at: {acked: 300}, duration: 1s}
  - {kind: host-isolate, target: h2, at: {random: [1s, 2s]}, duration: 1s, direction: out}
  - {kind: agent-kill, target: h1, at: {after: 2s}}
  - {kind: agent-restart, target: active-host, at: {after: 3s}}
expect: none
expect_gap: steady
)";

TEST(Scenario, ParsesHostFaultsOnALab) {
  auto s = ParseScenario(kHosts, "x.yaml");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->hosts, 2);
  EXPECT_EQ(s->expect_gap, "steady");
  ASSERT_EQ(s->faults.size(), 5u);
  EXPECT_EQ(s->faults[0].kind, FaultKind::kHostCrash);
  EXPECT_EQ(s->faults[0].target, "active-host");
  EXPECT_EQ(s->faults[0].down_ms, 2000);
  EXPECT_EQ(s->faults[1].kind, FaultKind::kHostFreeze);
  EXPECT_EQ(s->faults[1].duration_ms, 1000);
  EXPECT_EQ(s->faults[2].kind, FaultKind::kHostIsolate);
  EXPECT_EQ(s->faults[2].direction, "out");
  EXPECT_EQ(s->faults[3].kind, FaultKind::kAgentKill);
  EXPECT_EQ(s->faults[3].down_ms, 0) << "an agent killed without down stays down";
  EXPECT_EQ(s->faults[4].kind, FaultKind::kAgentRestart);
  EXPECT_TRUE(IsHostFault(FaultKind::kAgentKill));
  EXPECT_FALSE(IsHostFault(FaultKind::kKill));
}

TEST(Scenario, NamesTheHostFaultFieldThatIsWrong) {
  EXPECT_EQ(Error(Edit(kHosts, "hosts: 2", "hosts: 4")),
            "hosts: a lab of 2 or 3 hosts (leave it out for one host)");
  EXPECT_EQ(Error(Edit(kHosts, "hosts: 2\n", "")),
            "faults[0].kind: host-crash strikes a host: the scenario needs hosts: 2 or 3");
  EXPECT_EQ(Error(Edit(kHosts, "target: h2", "target: h3")),
            "faults[2].target: \"h3\" is not a host (active-host, standby-host, or h1..h2 of the "
            "lab)");
  EXPECT_EQ(
      Error(Edit(kHosts, "target: active-host, at: {after: 1s}", "target: a, at: {after: 1s}")),
      "faults[0].target: \"a\" is not a host (active-host, standby-host, or h1..h2 of the "
      "lab)");
  EXPECT_EQ(Error(Edit(kHosts, ", down: 2s", "")),
            "faults[0].down: required for host-crash (how long the host stays down)");
  EXPECT_EQ(Error(Edit(kHosts, "duration: 1s, direction: out", "direction: out")),
            "faults[2].duration: required for host-isolate");
  EXPECT_EQ(Error(Edit(kHosts, "direction: out", "direction: to-target")),
            "faults[2].direction: \"to-target\" is not both, in or out");
  EXPECT_EQ(Error(Edit(kHosts, "duration: 1s}\n  - {kind: host-isolate",
                       "duration: 1s, direction: in}\n  - {kind: host-isolate")),
            "faults[1].direction: only host-isolate has a direction among host faults");
  EXPECT_EQ(Error(Edit(kHosts, "at: {after: 3s}", "at: {after: 3s}, down: 1s")),
            "faults[4].down: agent-restart has no down");
  EXPECT_EQ(Error(Edit(kHosts, "at: {after: 2s}", "at: {after: 2s}, duration: 1s")),
            "faults[3].duration: agent-kill has no duration (down: how long it stays down)");
  EXPECT_EQ(Error(Edit(kHosts, "at: {after: 2s}", "at: {after: 2s}, drop: 0.5")),
            "faults[3].drop: not a field of agent-kill");
  EXPECT_EQ(Error(Edit(kHosts, "expect_gap: steady", "expect_gap: small")),
            "expect_gap: \"small\" is not steady or a positive duration (e.g. 600ms)");
  EXPECT_TRUE(
      ParseScenario(Edit(kHosts, "expect_gap: steady", "expect_failover: true"), "x.yaml").ok());
  EXPECT_EQ(Error("name: x\nhosts: 2\nfaults:\n  - {kind: agent-kill, target: h1, at: {after: "
                  "1s}}\nexpect_failover: true\n"),
            "expect_failover: judges host crash, freeze or isolation: there is none");
  EXPECT_EQ(Error(Edit(kHosts, "{kind: agent-kill, target: h1, at: {after: 2s}}",
                       "{kind: partition, target: replicas, at: {after: 2s}, duration: 1s}")),
            "faults[3].kind: partition needs the fault proxies of one host; on a lab, use "
            "host-isolate");
  EXPECT_EQ(Error(Edit(kHosts, "{kind: agent-kill, target: h1, at: {after: 2s}}",
                       "{kind: kill, target: coordinator, at: {after: 2s}}")),
            "faults[3].target: the coordinator of a lab is not a fault target here");
}

constexpr char kCoordinators[] = R"(name: coordinator-faults
hosts: 3
etcd: true
faults:
  - {kind: coordinator-leader-kill, at: {after: 1s}, duration: 2s}
  - {kind: coordinator-leader-freeze, at: {after: 2s}, duration: 1s}
  - {kind: coordinator-isolate, from: etcd, at: {after: 3s}, duration: 1s}
  - {kind: etcd-member-kill, target: leader-host, at: {after: 4s}, duration: 1s}
  - {kind: etcd-quorum-loss, at: {after: 5s}, duration: 2s}
  - {kind: host-crash, target: active-host, at: {after: 6s}, down: 1s}
)";

TEST(Scenario, ParsesCoordinatorAndEtcdFaultsOnALabWithEtcd) {
  auto s = ParseScenario(kCoordinators, "x.yaml");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_TRUE(s->etcd);
  ASSERT_EQ(s->faults.size(), 6u);
  EXPECT_EQ(s->faults[0].kind, FaultKind::kLeaderKill);
  EXPECT_EQ(s->faults[0].duration_ms, 2000);
  EXPECT_EQ(s->faults[1].kind, FaultKind::kLeaderFreeze);
  EXPECT_EQ(s->faults[2].kind, FaultKind::kLeaderIsolate);
  EXPECT_EQ(s->faults[2].from, "etcd");
  EXPECT_EQ(s->faults[3].kind, FaultKind::kEtcdMemberKill);
  EXPECT_EQ(s->faults[3].target, "leader-host");
  EXPECT_EQ(s->faults[4].kind, FaultKind::kEtcdQuorumLoss);
  EXPECT_TRUE(IsCoordinatorFault(FaultKind::kEtcdQuorumLoss));
  EXPECT_FALSE(IsCoordinatorFault(FaultKind::kHostCrash));
  EXPECT_STREQ(FaultKindName(FaultKind::kLeaderIsolate), "coordinator-isolate");
  auto stays_down = ParseScenario(
      Edit(kCoordinators, "at: {after: 1s}, duration: 2s", "at: {after: 1s}"), "x.yaml");
  ASSERT_TRUE(stays_down.ok()) << stays_down.status().ToString();
  EXPECT_EQ(stays_down->faults[0].duration_ms, 0) << "a killed leader without duration stays down";
}

TEST(Scenario, NamesTheCoordinatorFaultFieldThatIsWrong) {
  EXPECT_EQ(Error(Edit(kCoordinators, "etcd: true\n", "")),
            "faults[0].kind: coordinator-leader-kill strikes the coordinators: the scenario needs "
            "etcd: true (with hosts: 3)");
  EXPECT_EQ(Error(Edit(kCoordinators, "hosts: 3", "hosts: 2")),
            "etcd: needs hosts: 3 (an etcd member and a coordinator on each host)");
  EXPECT_EQ(Error(Edit(kCoordinators, "from: etcd", "from: disk")),
            "faults[2].from: \"disk\" is not etcd or replicas");
  EXPECT_EQ(Error(Edit(kCoordinators, "from: etcd, ", "")),
            "faults[2].from: required for coordinator-isolate (etcd or replicas)");
  EXPECT_EQ(Error(Edit(kCoordinators, "at: {after: 2s}, duration: 1s", "at: {after: 2s}")),
            "faults[1].duration: required for coordinator-leader-freeze");
  EXPECT_EQ(Error(Edit(kCoordinators, "at: {after: 5s}, duration: 2s", "at: {after: 5s}")),
            "faults[4].duration: required for etcd-quorum-loss");
  EXPECT_EQ(Error(Edit(kCoordinators, "target: leader-host", "target: h4")),
            "faults[3].target: \"h4\" is not leader-host, follower-host, h1, h2 or h3");
  EXPECT_EQ(Error(Edit(kCoordinators, "target: leader-host, ", "")),
            "faults[3].target: required for etcd-member-kill (leader-host, follower-host, h1, h2 "
            "or h3)");
  EXPECT_EQ(Error(Edit(kCoordinators, "{kind: coordinator-leader-kill,",
                       "{kind: coordinator-leader-kill, target: h1,")),
            "faults[0].target: coordinator-leader-kill has no target: it strikes the acting "
            "coordinator, found when it fires");
  EXPECT_EQ(Error(Edit(kCoordinators, "{kind: etcd-quorum-loss,",
                       "{kind: etcd-quorum-loss, target: h1,")),
            "faults[4].target: etcd-quorum-loss has no target: it stops the members of the two "
            "hosts the acting coordinator is not on");
  EXPECT_EQ(Error(Edit(kCoordinators, "{kind: coordinator-leader-freeze,",
                       "{kind: coordinator-leader-freeze, from: etcd,")),
            "faults[1].from: only coordinator-isolate has from");
  EXPECT_EQ(Error(Edit(kCoordinators, "down: 1s", "down: 1s, from: etcd")),
            "faults[5].from: only coordinator-isolate has from");
  EXPECT_EQ(Error(Edit(kCoordinators, "{kind: coordinator-leader-kill,",
                       "{kind: coordinator-leader-kill, down: 1s,")),
            "faults[0].down: not a field of coordinator-leader-kill");
  EXPECT_EQ(
      Error(Edit(kCoordinators, "at: {after: 1s}, duration: 2s", "at: {after: 1s}, duration: 0s")),
      "faults[0].duration: must be positive");
}

constexpr char kSlowAndOneWay[] = R"(name: slow-disk
workload: {clients: 3}
faults:
  - {kind: disk, target: active, at: {after: 1s}, duration: 1s, slow_sync: 150ms}
  - {kind: partition, target: control-active, at: {after: 2s}, duration: 1s, direction: to-target}
  - {kind: kill, target: both, at: {after: 3s}}
expect: none
expect_gap: 500ms
)";

TEST(Scenario, ParsesASlowDiskAOneWayCutOfTheActivesControlLinkAndAKillOfBoth) {
  auto s = ParseScenario(kSlowAndOneWay, "x.yaml");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->faults.size(), 3u);
  EXPECT_EQ(s->faults[0].slow_sync_ms, 150);
  EXPECT_EQ(s->faults[1].target, "control-active");
  EXPECT_EQ(s->faults[1].direction, "to-target");
  EXPECT_EQ(s->faults[2].target, "both");
  EXPECT_EQ(s->expect_gap, "500ms");
  EXPECT_EQ(s->expect_gap_ms, 500);
  EXPECT_EQ(ParseScenario(Edit(kSlowAndOneWay, "500ms", "steady"), "x.yaml")->expect_gap_ms, 0);

  EXPECT_EQ(Error(Edit(kSlowAndOneWay, "slow_sync: 150ms", "slow_sync: 150ms, error: nospace")),
            "faults[0].error: a slow disk fails nothing: no error");
  EXPECT_EQ(Error(Edit(kSlowAndOneWay, "slow_sync: 150ms", "slow_sync: 11s")),
            "faults[0].slow_sync: must be within 1ms..10000ms");
  EXPECT_EQ(Error(Edit(kSlowAndOneWay, "kind: disk", "kind: pause")),
            "faults[0].slow_sync: only a disk fault is slow");
  EXPECT_EQ(Error(Edit(kSlowAndOneWay, "kind: kill, target: both", "kind: pause, target: both")),
            "faults[2].target: \"both\" is not a process (a, b, active, standby, coordinator)");
  EXPECT_EQ(Error(Edit(kSlowAndOneWay, "expect_gap: 500ms", "expect_gap: soon")),
            "expect_gap: \"soon\" is not steady or a positive duration (e.g. 600ms)");
}

TEST(Scenario, TheCatalogueLoadsAndHasAtLeastTwentyScenarios) {
  auto all = LoadCatalogue(DUPLEX_SCENARIO_DIR);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_GE(all->size(), 20u);
}

}  // namespace
}  // namespace duplex
