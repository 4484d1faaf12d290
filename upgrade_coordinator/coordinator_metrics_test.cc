#include "upgrade_coordinator/coordinator_metrics.h"

#include <gtest/gtest.h>

#include "common/promtool_check.h"

namespace duplex {
namespace {

bool Has(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

nlohmann::json AView() {
  return nlohmann::json::parse(R"({
    "cluster": "prod", "epoch": 12, "active": "b", "mode": "sync", "lock": true,
    "cluster_version": "1.0.0", "refused_control_frames": 3,
    "replicas": [
      {"name": "a", "alive": true, "failed": false, "starts": 2, "role": "standby",
       "in_sync": true, "healthy": true, "lag": 5, "applied_seq": 995},
      {"name": "b", "alive": true, "failed": false, "starts": 1, "role": "active",
       "in_sync": true, "healthy": true, "lag": 0, "applied_seq": 1000}],
    "campaign": {"from": "1.0.0", "to": "2.0.0", "state": "running", "phase": "Evaluate"}})");
}

TEST(CoordinatorMetrics, ShowTheEpochEachReplicaTheTransitionsAndTheCampaign) {
  std::vector<TransitionEvent> transitions = {{"election", "", "a", 1, 0, 0},
                                              {"crash failover", "a", "b", 2, 0, 0},
                                              {"switchover", "b", "a", 3, 0, 0},
                                              {"switchover", "a", "b", 4, 0, 0}};
  std::string text = CoordinatorMetricsText(AView(), transitions);
  EXPECT_TRUE(Has(text, "duplex_cluster_epoch 12")) << text;
  EXPECT_TRUE(Has(text,
                  "duplex_cluster_info{cluster=\"prod\",active=\"b\",mode=\"sync\","
                  "cluster_version=\"1.0.0\"} 1"))
      << text;
  EXPECT_TRUE(Has(text, "duplex_management_lock 1")) << text;
  EXPECT_TRUE(Has(text, "duplex_refused_control_frames_total 3")) << text;
  EXPECT_TRUE(Has(text, "duplex_replica_active{replica=\"a\"} 0")) << text;
  EXPECT_TRUE(Has(text, "duplex_replica_active{replica=\"b\"} 1")) << text;
  EXPECT_TRUE(Has(text, "duplex_replica_lag_ops{replica=\"a\"} 5")) << text;
  EXPECT_TRUE(Has(text, "duplex_replica_starts_total{replica=\"a\"} 2")) << text;
  EXPECT_TRUE(Has(text, "duplex_transitions_total{kind=\"switchover\"} 2")) << text;
  EXPECT_TRUE(Has(text, "duplex_transitions_total{kind=\"crash failover\"} 1")) << text;
  EXPECT_TRUE(Has(text, "duplex_transitions_total{kind=\"hang failover\"} 0")) << text;
  EXPECT_TRUE(Has(text, "duplex_upgrade_running 1")) << text;
  EXPECT_TRUE(Has(text,
                  "duplex_upgrade_info{from=\"1.0.0\",to=\"2.0.0\",state=\"running\","
                  "phase=\"Evaluate\"} 1"))
      << text;
  // One HELP and one TYPE per family, however many samples it has.
  size_t types = 0;
  for (size_t at = text.find("# TYPE duplex_replica_up "); at != std::string::npos;
       at = text.find("# TYPE duplex_replica_up ", at + 1)) {
    ++types;
  }
  EXPECT_EQ(types, 1u);
}

TEST(CoordinatorMetrics, AFreshCoordinatorWithoutReplicasOrCampaignStillAnswers) {
  std::string text = CoordinatorMetricsText(
      nlohmann::json::parse(R"({"epoch": 0, "active": "", "campaign": null})"), {});
  EXPECT_TRUE(Has(text, "duplex_cluster_epoch 0")) << text;
  EXPECT_TRUE(Has(text, "duplex_upgrade_running 0")) << text;
  EXPECT_EQ(text.find("duplex_replica_up{"), std::string::npos) << text;
}

nlohmann::json ACoordinatorOfSeveral(const std::string& role) {
  nlohmann::json view = nlohmann::json::parse(R"({"epoch": 3, "active": "a", "leader_changes": 2,
    "etcd": {"reachable": false, "error": "connect timed out", "silent_ms": 1250}})");
  view["coordinator"] = {{"host", "h2"}, {"role", role}, {"term", 41}};
  return view;
}

TEST(CoordinatorMetrics, ShowTheLeadershipTheTermTheLeaderChangesAndEtcd) {
  std::string leader = CoordinatorMetricsText(ACoordinatorOfSeveral("leader"), {});
  EXPECT_TRUE(Has(leader, "duplex_coordinator_leader 1")) << leader;
  EXPECT_TRUE(Has(leader, "duplex_coordinator_term 41")) << leader;
  EXPECT_TRUE(Has(leader, "duplex_coordinator_leader_changes_total 2")) << leader;
  EXPECT_TRUE(Has(leader, "# TYPE duplex_coordinator_leader_changes_total counter")) << leader;
  EXPECT_TRUE(Has(leader, "duplex_etcd_reachable 0")) << leader;
  EXPECT_TRUE(Has(leader, "duplex_etcd_silent_seconds 1.25")) << leader;

  nlohmann::json follower_view = ACoordinatorOfSeveral("follower");
  follower_view["etcd"] = {{"reachable", true}, {"error", ""}, {"silent_ms", 4}};
  std::string follower = CoordinatorMetricsText(follower_view, {});
  EXPECT_TRUE(Has(follower, "duplex_coordinator_leader 0")) << follower;
  EXPECT_TRUE(Has(follower, "duplex_coordinator_term 41")) << follower;
  EXPECT_TRUE(Has(follower, "duplex_etcd_reachable 1")) << follower;
  EXPECT_TRUE(Has(follower, "duplex_etcd_silent_seconds 0.004")) << follower;
}

TEST(CoordinatorMetrics, ACoordinatorAloneActsInTermZeroWithoutEtcd) {
  nlohmann::json view = nlohmann::json::parse(R"({"epoch": 1, "active": "a", "leader_changes": 0,
    "coordinator": {"host": "", "role": "alone", "term": 0}})");
  std::string text = CoordinatorMetricsText(view, {});
  EXPECT_TRUE(Has(text, "duplex_coordinator_leader 1")) << text;
  EXPECT_TRUE(Has(text, "duplex_coordinator_term 0")) << text;
  EXPECT_TRUE(Has(text, "duplex_coordinator_leader_changes_total 0")) << text;
  EXPECT_EQ(text.find("duplex_etcd_"), std::string::npos) << text;
}

}  // namespace
}  // namespace duplex

namespace duplex {
namespace {

TEST(CoordinatorMetrics, PackageRefusalsAreCountedByReasonAndAgentRefusalsApart) {
  nlohmann::json view = AView();
  view["package_refusals"] = {{"unsigned", 2}, {"untrusted_key", 0}, {"checksum", 1}};
  view["agent_package_refusals"] = 4;
  const std::string text = CoordinatorMetricsText(view, {});
  EXPECT_TRUE(Has(text, "duplex_package_refused_total{reason=\"unsigned\"} 2")) << text;
  EXPECT_TRUE(Has(text, "duplex_package_refused_total{reason=\"untrusted_key\"} 0")) << text;
  EXPECT_TRUE(Has(text, "duplex_package_refused_total{reason=\"checksum\"} 1")) << text;
  EXPECT_TRUE(Has(text, "duplex_agent_package_refused_total 4")) << text;
}

// Prometheus's own checker on a page with every section: several hosts (whose families
// interleave as they are added), etcd, bounds, packages and a campaign.
TEST(CoordinatorMetrics, PromtoolChecksThePage) {
  nlohmann::json view = ACoordinatorOfSeveral("leader");
  const nlohmann::json cluster = AView();
  for (const auto& [key, value] : cluster.items()) view[key] = value;
  view["hosts"] = nlohmann::json::parse(R"([
    {"name": "h1", "agent": "connected", "last_heartbeat_ms": 120, "processes": [{"pid": 7}]},
    {"name": "h2", "agent": "lost", "last_heartbeat_ms": 9000, "processes": []}])");
  view["host_failovers"] = {{"process_exit", 1}, {"host_unreachable", 0}};
  view["bounds"] = {{"status_epochs", 1}, {"http_bodies", 2}};
  view["package_refusals"] = {{"unsigned", 2}};
  const std::string text = CoordinatorMetricsText(view, {{"crash failover", "a", "b", 2, 0, 0}});
  EXPECT_TRUE(Has(text, "duplex_agent_heartbeat_age_seconds{host=\"h2\"} 9")) << text;
  PromtoolVerdict v = PromtoolCheckMetrics(text);
  if (!v.ran) GTEST_SKIP() << v.said;
  EXPECT_TRUE(v.passed) << v.said << "\n" << text;
}

}  // namespace
}  // namespace duplex
