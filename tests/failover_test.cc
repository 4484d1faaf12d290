// End to end: real coordinator and replica processes on loopback, real RocksDB,
// clients writing while the active is killed, paused or switched over.
#include <httplib.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "chaos/workload.h"
#include "common/clock.h"
#include "common/promtool_check.h"
#include "tests/test_support.h"
#include "upgrade_coordinator/admin_client.h"

namespace duplex {
namespace {

using testing::ScratchDir;

std::unique_ptr<ClusterFixture> StartCluster(FixtureOptions options = {}) {
  options.dir = ScratchDir();
  auto cluster = ClusterFixture::Start(options);
  EXPECT_TRUE(cluster.ok()) << cluster.status().ToString();
  return cluster.ok() ? std::move(cluster).value() : nullptr;
}

WorkloadOptions Clients(const ClusterFixture& cluster, int clients = 3) {
  WorkloadOptions w;
  w.endpoints = cluster.Endpoints();
  w.clients = clients;
  return w;
}

void ExpectClean(const Workload& workload, const ClusterFixture& cluster) {
  CheckResult check = workload.Check();
  EXPECT_GT(check.ok, 0u);
  EXPECT_EQ(check.lost, 0u) << ::testing::PrintToString(check.problems);
  EXPECT_EQ(check.double_applied, 0u) << ::testing::PrintToString(check.problems);
  EXPECT_EQ(check.phantom, 0u) << ::testing::PrintToString(check.problems);
  DUPLEX_ASSERT_OK(cluster.WaitConverged(10000));
  EXPECT_TRUE(cluster.LogFindings().empty()) << ::testing::PrintToString(cluster.LogFindings());
}

TEST(Failover, KillingTheActiveTenTimesUnderLoadLosesNoAcknowledgedWrite) {
  auto cluster = StartCluster();
  ASSERT_NE(cluster, nullptr);
  Workload workload(Clients(*cluster));
  workload.Start();
  for (int round = 0; round < 10; ++round) {
    DUPLEX_ASSERT_OK(workload.WaitAcked(workload.acked() + 100, 10000));
    auto active = cluster->ActiveName();
    ASSERT_TRUE(active.ok()) << active.status().ToString();
    auto epoch = cluster->Epoch();
    ASSERT_TRUE(cluster->SignalReplica(*active, SIGKILL).ok());
    DUPLEX_ASSERT_OK(cluster->WaitFor(
        [&](const nlohmann::json& s) { return s.value("epoch", uint64_t{0}) > *epoch; }, 5000,
        "a new epoch after killing " + *active));
    DUPLEX_ASSERT_OK(cluster->WaitReady(15000));  // the killed one restarted and caught up
  }
  DUPLEX_ASSERT_OK(workload.WaitAcked(workload.acked() + 100, 10000));
  workload.Stop();
  ExpectClean(workload, *cluster);
}

// The agent holds no replica up: killed and restarted under load, it adopts both replicas
// (same pids), nobody fails over, and the clients see no gap longer than the steady load's.
TEST(Agent, KillingTheAgentUnderLoadChangesNothingClientsSee) {
  auto cluster = StartCluster();
  ASSERT_NE(cluster, nullptr);
  Workload workload(Clients(*cluster));
  workload.Start();
  DUPLEX_ASSERT_OK(workload.WaitAcked(workload.acked() + 300, 10000));
  const int64_t steady_from = NowUs();
  DUPLEX_ASSERT_OK(workload.WaitAcked(workload.acked() + 300, 10000));
  const int64_t fault_from = NowUs();
  const AckGap steady = workload.LongestAckGap(steady_from, fault_from);
  auto epoch = cluster->Epoch();
  auto pid_a = cluster->PidOf("a");
  auto pid_b = cluster->PidOf("b");
  ASSERT_TRUE(epoch.ok() && pid_a.ok() && pid_b.ok());
  for (int round = 0; round < 3; ++round) {
    DUPLEX_ASSERT_OK(cluster->KillAndRestartAgent());
    DUPLEX_ASSERT_OK(cluster->WaitFor(
        [&](const nlohmann::json& s) {
          for (const auto& h : s.value("hosts", nlohmann::json::array())) {
            if (h.value("agent_pid", 0) == cluster->agent_pid() &&
                h.value("agent", "") == "connected")
              return true;
          }
          return false;
        },
        5000, "the restarted agent reporting"));
    DUPLEX_ASSERT_OK(workload.WaitAcked(workload.acked() + 200, 10000));
  }
  const int64_t fault_to = NowUs();
  const AckGap during = workload.LongestAckGap(fault_from, fault_to);
  EXPECT_EQ(*cluster->Epoch(), *epoch) << "a failover while only the agent was killed";
  EXPECT_EQ(*cluster->PidOf("a"), *pid_a) << "replica a was restarted, not adopted";
  EXPECT_EQ(*cluster->PidOf("b"), *pid_b) << "replica b was restarted, not adopted";
  // Generous against scheduling noise on a loaded machine; a failover or a restart of a
  // replica costs hundreds of milliseconds.
  EXPECT_LT(during.length_us, std::max<int64_t>(3 * steady.length_us, 100000))
      << "longest gap during the agent's kills " << during.length_us / 1000.0 << " ms, steady "
      << steady.length_us / 1000.0 << " ms";
  std::printf("agent killed 3 times under load: longest ack gap %.1f ms (steady %.1f ms)\n",
              during.length_us / 1000.0, steady.length_us / 1000.0);
  workload.Stop();
  ExpectClean(workload, *cluster);
}

TEST(Failover, APausedActiveIsReplacedAfterItsLeaseAndRejoinsAsStandby) {
  auto cluster = StartCluster();
  ASSERT_NE(cluster, nullptr);
  Workload workload(Clients(*cluster));
  workload.Start();
  DUPLEX_ASSERT_OK(workload.WaitAcked(200, 10000));
  auto active = cluster->ActiveName();
  ASSERT_TRUE(active.ok());
  auto epoch = cluster->Epoch();
  ASSERT_TRUE(cluster->SignalReplica(*active, SIGSTOP).ok());
  DUPLEX_ASSERT_OK(cluster->WaitFor(
      [&](const nlohmann::json& s) {
        return s.value("epoch", uint64_t{0}) > *epoch && s.value("active", "") != *active;
      },
      5000, "the standby promoted while " + *active + " is paused"));
  uint64_t during = workload.acked();
  DUPLEX_ASSERT_OK(workload.WaitAcked(during + 200, 10000));  // the new active serves
  ASSERT_TRUE(cluster->SignalReplica(*active, SIGCONT).ok());
  DUPLEX_ASSERT_OK(cluster->WaitReady(15000));  // the deposed active follows the new one
  DUPLEX_ASSERT_OK(workload.WaitAcked(workload.acked() + 100, 10000));
  workload.Stop();
  ExpectClean(workload, *cluster);
}

TEST(Failover, PlannedSwitchoversUnderLoadLoseNothing) {
  auto cluster = StartCluster();
  ASSERT_NE(cluster, nullptr);
  Workload workload(Clients(*cluster));
  workload.Start();
  for (int round = 0; round < 5; ++round) {
    DUPLEX_ASSERT_OK(workload.WaitAcked(workload.acked() + 100, 10000));
    auto before = cluster->ActiveName();
    ASSERT_TRUE(before.ok());
    // A planned switchover is refused while the coordinator's record has the standby out
    // of sync (say, a solo episode under a loaded machine): ask again once it is back.
    auto done = Post(cluster->config(), "/switchover", 10000);
    for (int retry = 0; retry < 20 && !done.ok() &&
                        done.status().message().find("out of sync") != std::string::npos;
         ++retry) {
      DUPLEX_ASSERT_OK(cluster->WaitReady(15000));
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      done = Post(cluster->config(), "/switchover", 10000);
    }
    ASSERT_TRUE(done.ok()) << done.status().ToString();
    auto after = cluster->ActiveName();
    ASSERT_TRUE(after.ok());
    EXPECT_NE(*before, *after);
    DUPLEX_ASSERT_OK(cluster->WaitReady(15000));
  }
  workload.Stop();
  ExpectClean(workload, *cluster);
  httplib::Client http(cluster->config().host, cluster->config().admin_port);
  http.set_read_timeout(2, 0);
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("\nduplex_transitions_total{kind=\"switchover\"} 5\n"),
            std::string::npos)
      << metrics->body;
}

// The value of an unlabelled sample in a /metrics text; nullopt when it is not there.
std::optional<uint64_t> MetricIn(const std::string& text, const std::string& name) {
  size_t at = text.find("\n" + name + " ");
  if (at == std::string::npos) return std::nullopt;
  return std::stoull(text.substr(at + name.size() + 2));
}

TEST(Rejoin, AKilledStandbyCatchesUpByLogTail) {
  FixtureOptions options;
  options.restart.backoff_ms = 500;
  auto cluster = StartCluster(options);
  ASSERT_NE(cluster, nullptr);
  Workload workload(Clients(*cluster));
  workload.Start();
  DUPLEX_ASSERT_OK(workload.WaitAcked(100, 10000));
  auto active = cluster->ActiveName();
  std::string standby = *active == "a" ? "b" : "a";
  ASSERT_TRUE(cluster->SignalReplica(standby, SIGKILL).ok());
  DUPLEX_ASSERT_OK(workload.WaitAcked(workload.acked() + 300, 10000));  // solo meanwhile
  DUPLEX_ASSERT_OK(cluster->WaitReady(15000));
  workload.Stop();
  auto st = cluster->ReplicaStatus(*active);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ((*st)["snapshots_sent"], 0) << st->dump();
  ExpectClean(workload, *cluster);
  // The same counters for Prometheus: the active answered at least every acknowledged write.
  auto metrics = cluster->ReplicaHttpGet(*active, "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status().ToString();
  EXPECT_NE(metrics->find("\nduplex_active 1\n"), std::string::npos) << *metrics;
  auto answered = MetricIn(*metrics, "duplex_requests_total");
  ASSERT_TRUE(answered.has_value()) << *metrics;
  EXPECT_GE(*answered, workload.acked()) << *metrics;
  // Every answer is observed into the latency histogram.
  EXPECT_EQ(MetricIn(*metrics, "duplex_request_latency_seconds_count"), answered) << *metrics;
  // Prometheus's own checker on the live pages: both replicas' and the coordinator's.
  auto standby_metrics = cluster->ReplicaHttpGet(standby, "/metrics");
  ASSERT_TRUE(standby_metrics.ok()) << standby_metrics.status().ToString();
  httplib::Client http(cluster->config().host, cluster->config().admin_port);
  http.set_read_timeout(2, 0);
  auto coordinator_metrics = http.Get("/metrics");
  ASSERT_TRUE(coordinator_metrics);
  for (const std::string& page : {*metrics, *standby_metrics, coordinator_metrics->body}) {
    PromtoolVerdict v = PromtoolCheckMetrics(page);
    if (!v.ran) {
      std::printf("promtool check of the live /metrics pages skipped: %s\n", v.said.c_str());
      break;
    }
    EXPECT_TRUE(v.passed) << v.said << "\n" << page;
  }
}

TEST(Sessions, IdleClientsSessionsExpireOnBothReplicas) {
  FixtureOptions options;
  options.configure = [](ClusterConfig* c) { c->replication.session_expiry_ms = 300; };
  auto cluster = StartCluster(options);
  ASSERT_NE(cluster, nullptr);
  Workload workload(Clients(*cluster));
  workload.Start();
  DUPLEX_ASSERT_OK(workload.WaitAcked(100, 10000));
  workload.Stop();
  auto active = cluster->ActiveName();
  ASSERT_TRUE(active.ok());
  // The three clients fall idle: their entries are erased within the expiry and a sweep.
  std::optional<uint64_t> expired;
  for (int i = 0; i < 100 && expired != 3u; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto metrics = cluster->ReplicaHttpGet(*active, "/metrics");
    if (metrics.ok()) expired = MetricIn(*metrics, "duplex_sessions_expired_total");
  }
  EXPECT_EQ(expired, 3u);
  ExpectClean(workload, *cluster);  // equal digests: the standby erased them too
}

TEST(Rejoin, AStandbyBehindTheRetainedLogCatchesUpBySnapshot) {
  FixtureOptions options;
  options.restart.backoff_ms = 6000;
  options.log_retain_ops = 100;
  auto cluster = StartCluster(options);
  ASSERT_NE(cluster, nullptr);
  Workload workload(Clients(*cluster, 8));
  workload.Start();
  DUPLEX_ASSERT_OK(workload.WaitAcked(100, 10000));
  auto active = cluster->ActiveName();
  std::string standby = *active == "a" ? "b" : "a";
  ASSERT_TRUE(cluster->SignalReplica(standby, SIGKILL).ok());
  // More writes than the log retains (100, truncated in steps of 1024) while it is down.
  DUPLEX_ASSERT_OK(workload.WaitAcked(workload.acked() + 1500, 20000));
  auto down = cluster->PidOf(standby);
  ASSERT_TRUE(down.ok());
  ASSERT_EQ(*down, 0)
      << "the standby restarted before the log was truncated; the test proves nothing";
  DUPLEX_ASSERT_OK(cluster->WaitReady(20000));
  workload.Stop();
  auto st = cluster->ReplicaStatus(*active);
  ASSERT_TRUE(st.ok());
  EXPECT_GE((*st)["snapshots_sent"], 1) << st->dump();
  ExpectClean(workload, *cluster);
}

}  // namespace
}  // namespace duplex
