#include "upgrade_coordinator/agent_links.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "upgrade_coordinator/package_distribution.h"

namespace duplex {
namespace {

constexpr int64_t kMs = 1000;

ClusterConfig TwoHosts() {
  auto config = ParseClusterConfig(R"(name: lab
data_dir: /data
processor: {binary: /bin/kv, version: 1.0.0}
hosts:
  - {name: h1, address: 127.0.1.1}
  - {name: h2, address: 127.0.2.1}
  - {name: h3, address: 127.0.3.1}
coordinators: [{host: h3, admin_port: 7400, control_port: 7401}]
replicas:
  - {name: a, host: h1, port: 7410, client_port: 7412, http_port: 7411}
  - {name: b, host: h2, port: 7410, client_port: 7412, http_port: 7411}
agent: {heartbeat_ms: 100, distribute_bytes_per_s: 1000000}
)");
  EXPECT_TRUE(config.ok()) << config.status().ToString();
  return *config;
}

ReplicaProcess Running(const std::string& replica, uint64_t instance, int32_t pid) {
  ReplicaProcess p;
  p.replica = replica;
  p.instance = instance;
  p.pid = pid;
  p.version = "1.0.0";
  return p;
}

AgentReport Report(const std::string& host, std::vector<ReplicaProcess> processes) {
  AgentReport r;
  r.host = host;
  r.agent_pid = 9;
  r.started_us = 1;
  r.processes = std::move(processes);
  return r;
}

using Kind = ProcessEvent::Kind;

class AgentLinksTest : public ::testing::Test {
 protected:
  ClusterConfig config_ = TwoHosts();
  AgentLinks links_{config_};
};

// The value after --coordinator in a replica's command line.
std::string CoordinatorArg(const std::vector<std::string>& args) {
  auto it = std::find(args.begin(), args.end(), "--coordinator");
  return it == args.end() || it + 1 == args.end() ? "" : *(it + 1);
}

TEST(SplitFinalExits, LastExitsGoTogetherAndAnExitBeforeARestartKeepsItsPlace) {
  using K = ProcessEvent::Kind;
  const SplitEvents split = SplitFinalExits({{K::kExited, "a", 100},
                                             {K::kExited, "b", 200},
                                             {K::kStarted, "b", 201},
                                             {K::kExited, "c", 300}});
  ASSERT_EQ(split.in_order.size(), 2u);
  EXPECT_EQ(split.in_order[0].kind, K::kExited);
  EXPECT_EQ(split.in_order[0].replica, "b");
  EXPECT_EQ(split.in_order[1].kind, K::kStarted);
  EXPECT_EQ(split.in_order[1].pid, 201);
  EXPECT_EQ(split.final_exits, (std::vector<std::string>{"a", "c"}));
}

TEST(ReplicaArgs, AReplicaOfOneCoordinatorIsToldItsEndpoint) {
  ClusterConfig config = TwoHosts();
  EXPECT_EQ(CoordinatorArg(ReplicaArgs(config, config.replicas[0])), "tcp://127.0.3.1:7401");
  // A chaos proxy between replica a and the coordinator stands in for it.
  config.replicas[0].coordinator_port = 7450;
  EXPECT_EQ(CoordinatorArg(ReplicaArgs(config, config.replicas[0])), "tcp://127.0.3.1:7450");
  EXPECT_EQ(CoordinatorArg(ReplicaArgs(config, config.replicas[1])), "tcp://127.0.3.1:7401");
}

TEST(ReplicaArgs, AReplicaOfSeveralCoordinatorsIsToldEveryOneInOrder) {
  auto config = ParseClusterConfig(R"(name: lab
data_dir: /data
processor: {binary: /bin/kv, version: 1.0.0}
hosts:
  - {name: h1, address: 127.0.1.1}
  - {name: h2, address: 127.0.2.1}
  - {name: h3, address: 127.0.3.1}
coordinators:
  - {host: h1, admin_port: 7400, control_port: 7401}
  - {host: h2, admin_port: 7400, control_port: 7402}
  - {host: h3, admin_port: 7400, control_port: 7401}
records: {etcd: {endpoints: [http://127.0.1.1:2379], prefix: /duplex/lab}}
replicas:
  - {name: a, host: h1, port: 7410, client_port: 7412, http_port: 7411}
  - {name: b, host: h2, port: 7410, client_port: 7412, http_port: 7411}
)");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  const std::string all = "tcp://127.0.1.1:7401,tcp://127.0.2.1:7402,tcp://127.0.3.1:7401";
  EXPECT_EQ(CoordinatorArg(ReplicaArgs(*config, config->replicas[0])), all);
  // Whichever coordinator builds it (the one leading): the same list.
  ASSERT_TRUE(SelectCoordinator(&*config, "h2").ok());
  EXPECT_EQ(CoordinatorArg(ReplicaArgs(*config, config->replicas[1])), all);
  EXPECT_EQ(CoordinatorControlEndpoints(*config),
            (std::vector<std::string>{"tcp://127.0.1.1:7401", "tcp://127.0.2.1:7402",
                                      "tcp://127.0.3.1:7401"}));
}

TEST_F(AgentLinksTest, EveryDesiredStateCarriesTheLeadersTerm) {
  links_.Start("a", "", "1.0.0");
  links_.OnReport("r1", Report("h1", {}), 0);
  auto out = links_.TakeOutgoing();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].second.term, 0u);  // the embedded coordinator's
  links_.SetTerm(41);
  links_.OnReport("r1", Report("h1", {}), 10 * kMs);
  links_.OnReport("r2", Report("h2", {}), 10 * kMs);
  out = links_.TakeOutgoing();
  ASSERT_EQ(out.size(), 2u);
  for (const auto& [route, desired] : out) EXPECT_EQ(desired.term, 41u) << route;
}

TEST_F(AgentLinksTest, AStartBecomesDesiredStateAndItsPidComesBack) {
  links_.Start("a", "", "1.0.0");
  EXPECT_TRUE(links_.TakeOutgoing().empty());  // h1's agent has not reported: no route yet
  auto events = links_.OnReport("r1", Report("h1", {}), 0);
  EXPECT_TRUE(events.empty());
  auto out = links_.TakeOutgoing();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].first, "r1");
  ASSERT_NE(out[0].second.Find("a"), nullptr);
  EXPECT_TRUE(out[0].second.Find("a")->run);
  EXPECT_EQ(out[0].second.Find("a")->instance, 1u);
  EXPECT_EQ(out[0].second.host, "h1");
  events = links_.OnReport("r1", Report("h1", {Running("a", 1, 500)}), 10 * kMs);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::kPid);
  EXPECT_EQ(links_.KnownPid("a"), 500);
  // Its exit, reported at once: the fast failover path.
  events = links_.OnReport("r1", Report("h1", {}), 20 * kMs);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::kExited);
  EXPECT_EQ(links_.KnownPid("a"), 0);
}

TEST_F(AgentLinksTest, AFailedStartIsAnExitAndTheOldProcessIsNoNews) {
  links_.OnReport("r1", Report("h1", {Running("a", 1, 500)}), 0);  // adopted
  links_.Start("a", "kv", "2.0.0");                                // a reload: instance 2
  EXPECT_TRUE(links_.OnReport("r1", Report("h1", {Running("a", 1, 500)}), 1 * kMs).empty());
  ReplicaProcess failed;
  failed.replica = "a";
  failed.instance = 2;
  failed.exited_instance = 2;
  failed.last_exit = "cannot start: package kv-2.0.0 is not on host h1";
  auto events = links_.OnReport("r1", Report("h1", {failed}), 2 * kMs);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::kExited);
}

TEST_F(AgentLinksTest, ARestartedCoordinatorAdoptsAndCountsOnFromTheAgentsInstances) {
  auto events = links_.OnReport("r2", Report("h2", {Running("b", 7, 600)}), 0);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::kStarted);
  EXPECT_EQ(events[0].pid, 600);
  links_.Start("b", "", "1.0.0");
  auto out = links_.TakeOutgoing();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].second.Find("b")->instance, 8u);
}

// A new leader's rollback reloaded b before b's agent had reported to it: the stop waited
// for the report, instead of being dropped with the arbiter waiting for b's exit forever
// (simulation seed 110 with three coordinators).
TEST_F(AgentLinksTest, AStopAskedBeforeTheAgentReportedStopsTheProcessItAdopts) {
  links_.Stop("b");
  EXPECT_TRUE(links_.TakeOutgoing().empty());
  auto events = links_.OnReport("r2", Report("h2", {Running("b", 7, 600)}), 0);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::kStarted);
  auto out = links_.TakeOutgoing();
  ASSERT_EQ(out.size(), 1u);
  ASSERT_NE(out[0].second.Find("b"), nullptr);
  EXPECT_FALSE(out[0].second.Find("b")->run);
  events = links_.OnReport("r2", Report("h2", {}), 1 * kMs);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::kExited);
}

TEST_F(AgentLinksTest, AnotherPidIsAnExitThenAStart) {
  links_.OnReport("r1", Report("h1", {Running("a", 1, 500)}), 0);
  auto events = links_.OnReport("r1", Report("h1", {Running("a", 1, 501)}), 1 * kMs);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, Kind::kExited);
  EXPECT_EQ(events[1].kind, Kind::kStarted);
  EXPECT_EQ(events[1].pid, 501);
}

TEST_F(AgentLinksTest, StopAllAsksEveryHostAndWaitsForTheirExits) {
  links_.OnReport("r1", Report("h1", {Running("a", 1, 500)}), 0);
  links_.OnReport("r2", Report("h2", {Running("b", 1, 600)}), 0);
  links_.TakeOutgoing();
  links_.StopAll();
  auto out = links_.TakeOutgoing();
  ASSERT_EQ(out.size(), 2u);
  for (const auto& [route, desired] : out) EXPECT_FALSE(desired.replicas.at(0).run);
  EXPECT_FALSE(links_.AllStopped());
  links_.OnReport("r1", Report("h1", {}), 1 * kMs);
  links_.OnReport("r2", Report("h2", {}), 1 * kMs);
  EXPECT_TRUE(links_.AllStopped());
}

TEST_F(AgentLinksTest, AFailoverIsBlamedOnTheHostWhenItsAgentIsSilentToo) {
  links_.OnReport("r1", Report("h1", {Running("a", 1, 500)}), 0);
  EXPECT_EQ(links_.FailoverCause("crash failover", "a", 50 * kMs), "process_exit");
  EXPECT_EQ(links_.FailoverCause("hang failover", "a", 150 * kMs), "process_silent");
  EXPECT_EQ(links_.FailoverCause("hang failover", "a", 450 * kMs), "host_unreachable");
  EXPECT_TRUE(links_.Connected("h1", 450 * kMs));
  EXPECT_FALSE(links_.Connected("h1", 600 * kMs));
}

TEST_F(AgentLinksTest, PackagesGoToEachHostAtTheConfiguredRateUntilItsAgentHoldsThem) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("duplex-dist-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string binary(600 << 10, 'x');  // three parts of 256 KiB (the last shorter)
  std::ofstream(dir / "kv") << binary;
  std::ofstream(dir / "manifest.yaml") << "name: kv\n";
  PackageManifest m;
  m.name = "kv";
  m.version = *ParseVersion("2.0.0");
  m.binary = "kv";
  m.sha256 = std::string(64, 'a');
  m.dir = dir.string();
  links_.OnReport("r1", Report("h1", {}), 0);
  links_.OnReport("r2", Report("h2", {}), 0);
  PackageDistributor distributor(config_, &links_);
  Distribution d = distributor.Want(m, 0);
  EXPECT_FALSE(d.done);
  EXPECT_EQ(d.progress, "h1 0%, h2 0%");
  // 1 MB/s: a 256 KiB part is due about every 262 ms per host.
  uint64_t sent = 0;
  int64_t last_part_us = 0;
  for (int64_t t = 0; t <= 1000 * kMs; t += 10 * kMs) {
    links_.OnReport("r1", Report("h1", {}), t);  // both agents keep reporting
    links_.OnReport("r2", Report("h2", {}), t);
    for (const auto& [route, part] : distributor.TakeParts(t)) {
      sent += part.data.size();
      last_part_us = t;
      EXPECT_EQ(part.total_bytes, binary.size());
    }
  }
  EXPECT_EQ(sent, 2 * binary.size());
  EXPECT_GE(last_part_us, 600 * kMs);  // the rate held: 600 KiB at 1 MB/s takes > 0.6 s
  // An agent that refuses the package (its signature, say) is counted once per refusal.
  AgentReport refused = Report("h2", {});
  refused.package_error = "kv-2.0.0: package kv-2.0.0: manifest is not signed";
  links_.OnReport("r2", refused, 1000 * kMs);
  distributor.Want(m, 1000 * kMs);
  distributor.Want(m, 1000 * kMs);
  EXPECT_EQ(distributor.agent_refusals(), 1u);
  AgentReport holds = Report("h1", {});
  holds.packages = {{"kv", "2.0.0", m.sha256}};
  links_.OnReport("r1", holds, 1001 * kMs);
  holds.host = "h2";
  links_.OnReport("r2", holds, 1001 * kMs);
  d = distributor.Want(m, 1001 * kMs);
  EXPECT_TRUE(d.done);
  EXPECT_EQ(d.progress, "h1 done, h2 done");
  fs::remove_all(dir);
}

// A report whose instance jumps past limits.epoch_step_max is refused whole (the next start's
// +1 would wrap); the genuine report after it is taken.
TEST_F(AgentLinksTest, AReportOfAnInstanceFarAboveTheLastAskedIsRefusedAndCounted) {
  links_.Start("a", "", "1.0.0");
  auto events = links_.OnReport("r1", Report("h1", {Running("a", UINT64_MAX, 100)}), 0);
  EXPECT_TRUE(events.empty());
  EXPECT_EQ(links_.instances_refused(), 1u);
  EXPECT_EQ(links_.KnownPid("a"), 0);
  events = links_.OnReport("r1", Report("h1", {Running("a", 1, 100)}), 1 * kMs);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].pid, 100);
  EXPECT_EQ(links_.KnownPid("a"), 100);
}

TEST(ReplicaArgs, AReplicaIsToldEveryLimitUnderItsConfigName) {
  ClusterConfig config = TwoHosts();
  config.limits.client_idle_timeout_ms = 1234;
  config.limits.epoch_step_max = 77;
  const std::vector<std::string> args = ReplicaArgs(config, config.replicas[0]);
  auto value = [&](const std::string& flag) {
    auto it = std::find(args.begin(), args.end(), flag);
    return it == args.end() || it + 1 == args.end() ? "" : *(it + 1);
  };
  EXPECT_EQ(value("--client-idle-timeout-ms"), "1234");
  EXPECT_EQ(value("--epoch-step-max"), "77");
  EXPECT_EQ(value("--client-connections-max"), "4096");
  EXPECT_EQ(value("--client-partial-frame-ms"), "10000");
  EXPECT_EQ(value("--zmq-parts-max"), "8");
  EXPECT_EQ(value("--http-body-bytes-max"), "1048576");
  EXPECT_EQ(value("--admin-jobs-max"), "8");
}

}  // namespace
}  // namespace duplex
