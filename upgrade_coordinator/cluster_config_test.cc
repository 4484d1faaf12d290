#include "upgrade_coordinator/cluster_config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace duplex {
namespace {

namespace fs = std::filesystem;

constexpr char kValid[] = R"(name: kv-demo
data_dir: ../data
host: 127.0.0.1
admin_port: 7400
control_port: 7401
log_level: debug
processor:
  binary: bin/kv-1.0.0
  version: 1.0.0
replicas:
  - name: a
    port: 7410
    http_port: 7411
    client_port: 7416
  - name: b
    host: 127.0.0.2
    port: 7420
    http_port: 7421
    client_port: 7426
timing: {heartbeat_ms: 10, lease_ms: 100, failure_timeout_ms: 90, ack_timeout_ms: 80, client_timeout_ms: 70, startup_timeout_ms: 5000}
restart: {max_restarts: 3, window_s: 30, backoff_ms: 0}
replication: {mode: async, max_lag_ops: 500, log_retain_ops: 6000, max_batch_ops: 64, snapshot_chunk_bytes: 4096, max_frame_bytes: 65536, max_queue: 100, session_expiry_ms: 0}
)";

// Only the required fields.
constexpr char kMinimal[] = R"(name: small
data_dir: /var/lib/small
admin_port: 7400
control_port: 7401
processor: {binary: /opt/kv, version: 2.1.0}
replicas:
  - {name: a, port: 7410, client_port: 7416, http_port: 7411}
  - {name: b, port: 7420, client_port: 7426, http_port: 7421}
)";

// `text` with the one occurrence of `from` replaced; a test edit must not match twice by accident.
std::string Edit(std::string text, std::string_view from, std::string_view to) {
  const std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "no \"" << from << "\" in the config";
  if (at == std::string::npos) return text;
  EXPECT_EQ(text.find(from, at + 1), std::string::npos) << "\"" << from << "\" occurs twice";
  return text.replace(at, from.size(), to);
}

StatusOr<ClusterConfig> Parse(const std::string& text) { return ParseClusterConfig(text, "/base"); }

// Passes when `result` is an InvalidArgument whose message starts with `prefix`.
::testing::AssertionResult FailsWith(const StatusOr<ClusterConfig>& result,
                                     std::string_view prefix) {
  if (result.ok()) return ::testing::AssertionFailure() << "parsed fine, expected " << prefix;
  const Status& status = result.status();
  if (status.code() != Code::kInvalidArgument || status.message().rfind(prefix, 0) != 0) {
    return ::testing::AssertionFailure()
           << "got " << status.ToString() << "\nexpected InvalidArgument: " << prefix;
  }
  return ::testing::AssertionSuccess();
}

// Every field but source_path, which records where a config came from, not what it says.
void ExpectSameConfig(const ClusterConfig& a, const ClusterConfig& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.data_dir, b.data_dir);
  EXPECT_EQ(a.host, b.host);
  EXPECT_EQ(a.admin_port, b.admin_port);
  EXPECT_EQ(a.control_port, b.control_port);
  EXPECT_EQ(a.log_level, b.log_level);
  EXPECT_EQ(a.processor.binary, b.processor.binary);
  EXPECT_EQ(a.processor.version, b.processor.version);
  ASSERT_EQ(a.replicas.size(), b.replicas.size());
  for (std::size_t i = 0; i < a.replicas.size(); ++i) {
    EXPECT_EQ(a.replicas[i].name, b.replicas[i].name);
    EXPECT_EQ(a.replicas[i].host, b.replicas[i].host);
    EXPECT_EQ(a.replicas[i].port, b.replicas[i].port);
    EXPECT_EQ(a.replicas[i].client_port, b.replicas[i].client_port);
    EXPECT_EQ(a.replicas[i].http_port, b.replicas[i].http_port);
  }
  EXPECT_EQ(a.timing.heartbeat_ms, b.timing.heartbeat_ms);
  EXPECT_EQ(a.timing.lease_ms, b.timing.lease_ms);
  EXPECT_EQ(a.timing.failure_timeout_ms, b.timing.failure_timeout_ms);
  EXPECT_EQ(a.timing.ack_timeout_ms, b.timing.ack_timeout_ms);
  EXPECT_EQ(a.timing.client_timeout_ms, b.timing.client_timeout_ms);
  EXPECT_EQ(a.timing.startup_timeout_ms, b.timing.startup_timeout_ms);
  EXPECT_EQ(a.restart.restarts_max, b.restart.restarts_max);
  EXPECT_EQ(a.restart.window_s, b.restart.window_s);
  EXPECT_EQ(a.restart.backoff_ms, b.restart.backoff_ms);
  EXPECT_EQ(a.restart.backoff_max_ms, b.restart.backoff_max_ms);
  EXPECT_EQ(a.replication.mode, b.replication.mode);
  EXPECT_EQ(a.replication.lag_ops_max, b.replication.lag_ops_max);
  EXPECT_EQ(a.replication.log_retain_ops, b.replication.log_retain_ops);
  EXPECT_EQ(a.replication.batch_ops_max, b.replication.batch_ops_max);
  EXPECT_EQ(a.replication.snapshot_chunk_bytes, b.replication.snapshot_chunk_bytes);
  EXPECT_EQ(a.replication.frame_bytes_max, b.replication.frame_bytes_max);
  EXPECT_EQ(a.replication.queue_max, b.replication.queue_max);
  EXPECT_EQ(a.replication.session_expiry_ms, b.replication.session_expiry_ms);
}

// A fresh directory per test, so file tests do not see each other's files.
fs::path FreshDir(const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("cluster_config_test_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

TEST(ClusterConfig, ParsesEveryFieldOfAFullFile) {
  StatusOr<ClusterConfig> config = Parse(kValid);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->name, "kv-demo");
  EXPECT_EQ(config->data_dir, "/data");
  EXPECT_EQ(config->host, "127.0.0.1");
  EXPECT_EQ(config->admin_port, 7400);
  EXPECT_EQ(config->control_port, 7401);
  EXPECT_EQ(config->log_level, "debug");
  EXPECT_EQ(config->processor.binary, "/base/bin/kv-1.0.0");
  EXPECT_EQ(config->processor.version, "1.0.0");
  ASSERT_EQ(config->replicas.size(), 2u);
  EXPECT_EQ(config->replicas[0].name, "a");
  EXPECT_EQ(config->replicas[0].host, "127.0.0.1");
  EXPECT_EQ(config->replicas[0].port, 7410);
  EXPECT_EQ(config->replicas[0].http_port, 7411);
  EXPECT_EQ(config->replicas[0].client_port, 7416);
  EXPECT_EQ(config->replicas[1].name, "b");
  EXPECT_EQ(config->replicas[1].host, "127.0.0.2");
  EXPECT_EQ(config->replicas[1].port, 7420);
  EXPECT_EQ(config->replicas[1].http_port, 7421);
  EXPECT_EQ(config->replicas[1].client_port, 7426);
  EXPECT_EQ(config->timing.heartbeat_ms, 10);
  EXPECT_EQ(config->timing.lease_ms, 100);
  EXPECT_EQ(config->timing.failure_timeout_ms, 90);
  EXPECT_EQ(config->timing.ack_timeout_ms, 80);
  EXPECT_EQ(config->timing.client_timeout_ms, 70);
  EXPECT_EQ(config->timing.startup_timeout_ms, 5000);
  EXPECT_EQ(config->restart.restarts_max, 3);
  EXPECT_EQ(config->restart.window_s, 30);
  EXPECT_EQ(config->restart.backoff_ms, 0);
  EXPECT_EQ(config->replication.mode, ReplicationMode::kAsync);
  EXPECT_EQ(config->replication.lag_ops_max, 500u);
  EXPECT_EQ(config->replication.log_retain_ops, 6000u);
  EXPECT_EQ(config->replication.batch_ops_max, 64u);
  EXPECT_EQ(config->replication.snapshot_chunk_bytes, 4096u);
  EXPECT_EQ(config->replication.frame_bytes_max, 65536u);
  EXPECT_EQ(config->replication.queue_max, 100u);
  EXPECT_EQ(config->replication.session_expiry_ms, 0u);  // 0 is allowed: never
  EXPECT_EQ(config->source_path, "");
}

TEST(ClusterConfig, KeepsTheDefaultsWhenOptionalSectionsAreOmitted) {
  StatusOr<ClusterConfig> config = Parse(kMinimal);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  const ClusterConfig defaults;
  EXPECT_EQ(config->host, defaults.host);
  EXPECT_EQ(config->log_level, "info");
  EXPECT_EQ(config->replicas[0].host, defaults.host);
  EXPECT_EQ(config->timing.heartbeat_ms, defaults.timing.heartbeat_ms);
  EXPECT_EQ(config->timing.lease_ms, defaults.timing.lease_ms);
  EXPECT_EQ(config->timing.startup_timeout_ms, defaults.timing.startup_timeout_ms);
  EXPECT_EQ(config->restart.restarts_max, defaults.restart.restarts_max);
  EXPECT_EQ(config->replication.mode, ReplicationMode::kSync);
  EXPECT_EQ(config->replication.frame_bytes_max, defaults.replication.frame_bytes_max);
}

TEST(ClusterConfig, KeepsTheDefaultsOfAnEmptySectionAndOfOmittedFields) {
  StatusOr<ClusterConfig> config =
      Parse(std::string(kMinimal) + "timing:\nrestart: {window_s: 7}\n");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->timing.lease_ms, TimingConfig().lease_ms);
  EXPECT_EQ(config->restart.window_s, 7);
  EXPECT_EQ(config->restart.restarts_max, RestartConfig().restarts_max);
}

TEST(ClusterConfig, ReplicasInheritTheClusterHost) {
  StatusOr<ClusterConfig> config = Parse("host: node1.example\n" + std::string(kMinimal));
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->replicas[0].host, "node1.example");
  EXPECT_EQ(config->replicas[1].host, "node1.example");
}

TEST(ClusterConfig, RequiresANameAProcessorAndReplicas) {
  EXPECT_TRUE(FailsWith(Parse(Edit(kValid, "name: kv-demo\n", "")), "name: required"));
  EXPECT_TRUE(FailsWith(Parse(Edit(kValid, "name: kv-demo", "name:")), "name: required"));
  EXPECT_TRUE(FailsWith(Parse(Edit(kMinimal, "processor: {binary: /opt/kv, version: 2.1.0}\n", "")),
                        "processor: required"));
  EXPECT_TRUE(FailsWith(Parse(Edit(kMinimal, "version: 2.1.0", "version: ''")),
                        "processor.version: required"));
  EXPECT_TRUE(
      FailsWith(Parse(Edit(kMinimal, "{name: a, port: 7410, client_port: 7416, http_port: 7411}",
                           "{name: a}")),
                "replicas[0].port: required"));
  EXPECT_TRUE(FailsWith(Parse(Edit(kValid, "    client_port: 7426\n", "")),
                        "replicas[1].client_port: required"));
  EXPECT_TRUE(FailsWith(
      Parse(Edit(kMinimal,
                 "replicas:\n  - {name: a, port: 7410, client_port: 7416, http_port: 7411}\n"
                 "  - {name: b, port: 7420, client_port: 7426, http_port: 7421}\n",
                 "")),
      "replicas: required"));
  EXPECT_TRUE(FailsWith(Parse(""), "name: required"));
}

TEST(ClusterConfig, RequiresADataDirAnAdminPortAndAControlPort) {
  EXPECT_TRUE(FailsWith(Parse(Edit(kValid, "data_dir: ../data\n", "")), "data_dir: required"));
  EXPECT_TRUE(
      FailsWith(Parse(Edit(kValid, "data_dir: ../data", "data_dir: ''")), "data_dir: required"));
  EXPECT_TRUE(FailsWith(Parse(Edit(kValid, "admin_port: 7400\n", "")), "admin_port: required"));
  EXPECT_TRUE(
      FailsWith(Parse(Edit(kValid, "admin_port: 7400", "admin_port:")), "admin_port: required"));
  EXPECT_TRUE(FailsWith(Parse(Edit(kValid, "control_port: 7401\n", "")), "control_port: required"));
  EXPECT_TRUE(FailsWith(Parse(Edit(kValid, "control_port: 7401", "control_port:")),
                        "control_port: required"));
}

TEST(ClusterConfig, RejectsAPortOutOfRange) {
  EXPECT_TRUE(FailsWith(Parse(Edit(kValid, "port: 7420", "port: 70000")),
                        "replicas[1].port: 70000 is not a port (1..65535)"));
  EXPECT_TRUE(FailsWith(Parse(Edit(kValid, "admin_port: 7400", "admin_port: -1")),
                        "admin_port: -1 is not a port (1..65535)"));
  EXPECT_TRUE(FailsWith(Parse(Edit(kValid, "http_port: 7411", "http_port: x")),
                        "replicas[0].http_port: must be a port number (1..65535), got \"x\""));
}

TEST(ClusterConfig, RejectsPortZeroInAFile) {
  EXPECT_TRUE(FailsWith(Parse(Edit(kValid, "control_port: 7401", "control_port: 0")),
                        "control_port: 0 is not a port (1..65535)"));
}

TEST(ClusterConfig, RejectsAPortUsedTwiceOnOneAddress) {
  EXPECT_TRUE(FailsWith(Parse(Edit(kValid, "http_port: 7411", "http_port: 7410")),
                        "replicas[0].http_port: 7410 is already used by replicas[0].port"));
  EXPECT_TRUE(FailsWith(Parse(Edit(kValid, "port: 7410", "port: 7400")),
                        "replicas[0].port: 7400 is already used by admin_port"));
  // Replica b binds 127.0.0.2: the same port there is another socket.
  EXPECT_TRUE(Parse(Edit(kValid, "client_port: 7426", "client_port: 7416")).ok());
}

// Two machines, and the coordinator on a third.
constexpr char kHosts[] = R"(name: kv-lab
data_dir: ../data
processor: {binary: bin/kv-1.0.0, version: 1.0.0}
hosts:
  - {name: h1, address: 127.0.1.1}
  - {name: h2, address: 127.0.2.1, data_dir: /srv/h2}
  - {name: h3, address: 127.0.3.1}
coordinators:
  - {host: h3, admin_port: 7400, control_port: 7401}
replicas:
  - {name: a, host: h1, port: 7410, client_port: 7412, http_port: 7411}
  - {name: b, host: h2, port: 7410, client_port: 7412, http_port: 7411}
agent: {heartbeat_ms: 50, distribute_bytes_per_s: 1000000, restart_when_alone: false}
)";

TEST(ClusterConfig, PlacesReplicasOnNamedHosts) {
  StatusOr<ClusterConfig> config = Parse(kHosts);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_TRUE(config->hosts_named);
  ASSERT_EQ(config->hosts.size(), 3u);
  EXPECT_EQ(config->replicas[0].host_name, "h1");
  EXPECT_EQ(config->replicas[0].host, "127.0.1.1");
  EXPECT_EQ(config->replicas[1].host, "127.0.2.1");
  EXPECT_EQ(config->coordinator_host, "h3");
  EXPECT_EQ(config->host, "127.0.3.1");
  EXPECT_EQ(config->admin_port, 7400);
  EXPECT_EQ(ReplicaDataDir(*config, config->replicas[0]), "/data/h1/a");
  EXPECT_EQ(ReplicaDataDir(*config, config->replicas[1]), "/srv/h2/b");
  EXPECT_EQ(ReplicasOn(*config, "h2").size(), 1u);
  EXPECT_TRUE(ReplicasOn(*config, "h3").empty());
  EXPECT_EQ(config->agent.heartbeat_ms, 50);
  EXPECT_EQ(config->agent.distribute_bytes_per_s, 1000000u);
  EXPECT_FALSE(config->agent.restart_when_alone);
  // Written out and read back: the same placement.
  StatusOr<ClusterConfig> again = Parse(ClusterConfigToYaml(*config));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->replicas[1].host_name, "h2");
  EXPECT_EQ(again->hosts[1].data_dir, "/srv/h2");
  EXPECT_EQ(again->coordinator_host, "h3");
  EXPECT_FALSE(again->agent.restart_when_alone);
}

TEST(ClusterConfig, WithoutHostsOneHostIsImplied) {
  StatusOr<ClusterConfig> config = Parse(kValid);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_FALSE(config->hosts_named);
  ASSERT_EQ(config->hosts.size(), 1u);
  EXPECT_EQ(config->hosts[0].name, "local");
  EXPECT_EQ(config->replicas[1].host_name, "local");
  EXPECT_EQ(config->replicas[1].host, "127.0.0.2");  // an address, as before hosts
  EXPECT_EQ(ReplicaDataDir(*config, config->replicas[0]), "/data/a");
}

TEST(ClusterConfig, RejectsBadPlacement) {
  EXPECT_TRUE(FailsWith(Parse(Edit(kHosts, "name: b, host: h2", "name: b, host: h9")),
                        "replicas[1].host: \"h9\" is not one of hosts (h1, h2, h3)"));
  EXPECT_TRUE(FailsWith(Parse(Edit(kHosts, "name: b, host: h2,", "name: b,")),
                        "replicas[1].host: required: one of hosts (h1, h2, h3)"));
  EXPECT_TRUE(FailsWith(Parse(Edit(kHosts, "{host: h3,", "{host: h7,")),
                        "coordinators[0].host: \"h7\" is not one of hosts"));
  EXPECT_TRUE(FailsWith(Parse(Edit(kHosts, "address: 127.0.2.1", "address: 127.0.1.1")),
                        "hosts[1].address: \"127.0.1.1\" is already host h1's"));
  EXPECT_TRUE(FailsWith(Parse(Edit(kHosts, "name: h2,", "name: h1,")),
                        "hosts[1].name: \"h1\" is used twice"));
  EXPECT_TRUE(FailsWith(Parse(Edit(kHosts, "name: kv-lab\n", "name: kv-lab\nadmin_port: 1\n")),
                        "admin_port: the coordinator is described in coordinators: already"));
  EXPECT_TRUE(FailsWith(Parse(Edit(kHosts, "client_port: 7412, http_port: 7411}\n  - {name: b",
                                   "client_port: 7410, http_port: 7411}\n  - {name: b")),
                        "replicas[0].client_port: 7410 is already used by replicas[0].port"));
  EXPECT_TRUE(FailsWith(Parse(Edit(kHosts, "restart_when_alone: false", "restart_when_alone: 3")),
                        "agent.restart_when_alone: must be true or false"));
}

// Three coordinators electing their leader in etcd (high availability).
constexpr char kThreeCoordinators[] = R"(name: kv-ha
data_dir: ../data
processor: {binary: bin/kv-1.0.0, version: 1.0.0}
hosts:
  - {name: h1, address: 127.0.1.1}
  - {name: h2, address: 127.0.2.1}
  - {name: h3, address: 127.0.3.1}
coordinators:
  - {host: h1, admin_port: 7400, control_port: 7401}
  - {host: h2, admin_port: 7400, control_port: 7401}
  - {host: h3, admin_port: 7400, control_port: 7401}
records: {etcd: {endpoints: [http://127.0.1.1:2379, http://127.0.2.1:2379], prefix: /duplex/kv, lease_ttl_s: 1}}
replicas:
  - {name: a, host: h1, port: 7410, client_port: 7412, http_port: 7411}
  - {name: b, host: h2, port: 7410, client_port: 7412, http_port: 7411}
)";

TEST(ClusterConfig, ReadsSeveralCoordinatorsAndTheirEtcd) {
  StatusOr<ClusterConfig> config = Parse(kThreeCoordinators);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  ASSERT_EQ(config->coordinators.size(), 3u);
  EXPECT_EQ(config->coordinators[2].address, "127.0.3.1");
  EXPECT_EQ(config->coordinator_host, "h1") << "the first is selected until --host says else";
  ASSERT_TRUE(config->etcd.has_value());
  EXPECT_EQ(config->etcd->endpoints.size(), 2u);
  EXPECT_EQ(config->etcd->prefix, "/duplex/kv");
  EXPECT_EQ(config->etcd->lease_ttl_s, 1);
  ASSERT_TRUE(SelectCoordinator(&*config, "h2").ok());
  EXPECT_EQ(config->host, "127.0.2.1");
  EXPECT_EQ(config->control_port, 7401);
  EXPECT_TRUE(FailsWith(SelectCoordinator(&*config, "h9"),
                        "no coordinator runs on host \"h9\" (coordinators: h1, h2, h3)"));
  StatusOr<ClusterConfig> again = Parse(ClusterConfigToYaml(*config));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->coordinators.size(), 3u);
  EXPECT_EQ(again->etcd->endpoints, config->etcd->endpoints);
  EXPECT_EQ(again->etcd->lease_ttl_s, 1);
  // Without records: one coordinator, implied from the top-level fields, and no etcd.
  StatusOr<ClusterConfig> single = Parse(kValid);
  ASSERT_TRUE(single.ok());
  ASSERT_EQ(single->coordinators.size(), 1u);
  EXPECT_EQ(single->coordinators[0].admin_port, single->admin_port);
  EXPECT_FALSE(single->etcd.has_value());
}

TEST(ClusterConfig, RejectsBadCoordinatorsAndRecords) {
  const std::string ha = kThreeCoordinators;
  EXPECT_TRUE(FailsWith(Parse(Edit(ha,
                                   "records: {etcd: {endpoints: [http://127.0.1.1:2379, "
                                   "http://127.0.2.1:2379], prefix: /duplex/kv, lease_ttl_s: "
                                   "1}}\n",
                                   "")),
                        "coordinators: 3 coordinators elect their leader in etcd"));
  EXPECT_TRUE(FailsWith(Parse(Edit(ha, "{host: h3, admin", "{host: h2, admin")),
                        "coordinators[2].host: \"h2\" already runs a coordinator"));
  EXPECT_TRUE(
      FailsWith(Parse(Edit(ha, "http://127.0.1.1:2379,", "127.0.1.1:2379,")),
                "records.etcd.endpoints[0]: \"127.0.1.1:2379\" is not http://address:port"));
  EXPECT_TRUE(FailsWith(Parse(Edit(ha, "http://127.0.2.1:2379]", "http://127.0.2.1:99999]")),
                        "records.etcd.endpoints[1]: \"http://127.0.2.1:99999\": \"99999\" is not "
                        "a port"));
  EXPECT_TRUE(FailsWith(Parse(Edit(ha, "prefix: /duplex/kv", "prefix: duplex/kv")),
                        "records.etcd.prefix: \"duplex/kv\" must start with '/'"));
  EXPECT_TRUE(FailsWith(Parse(Edit(ha, "lease_ttl_s: 1", "lease_ttl_s: 0")),
                        "records.etcd.lease_ttl_s: must be a positive integer"));
  EXPECT_TRUE(FailsWith(
      Parse(Edit(ha, "records: {etcd: {endpoints:", "records: {etc: {endpoints:")), "records"));
  EXPECT_TRUE(
      FailsWith(Parse(Edit(ha, "port: 7410, client_port: 7412, http_port: 7411}\n  - {name: b",
                           "port: 7410, client_port: 7412, http_port: 7411, "
                           "coordinator_port: 7500}\n  - {name: b")),
                "replicas[0].coordinator_port: a proxy for the one coordinator; there are 3"));
  EXPECT_TRUE(
      FailsWith(Parse(Edit(ha, "port: 7410, client_port: 7412, http_port: 7411}\n  - {name: b",
                           "port: 7401, client_port: 7412, http_port: 7411}\n  - {name: b")),
                "replicas[0].port: 7401 is already used by coordinators[0].control_port"));
}

TEST(ClusterConfig, RejectsALeaseNotLongerThanThreeHeartbeats) {
  EXPECT_TRUE(FailsWith(
      Parse(Edit(kValid, "heartbeat_ms: 10, lease_ms: 100", "heartbeat_ms: 20, lease_ms: 50")),
      "timing.lease_ms: must be more than 3 x heartbeat_ms (20), got 50"));
  EXPECT_TRUE(FailsWith(Parse(Edit(kValid, "lease_ms: 100", "lease_ms: 30")),
                        "timing.lease_ms: must be more than 3 x heartbeat_ms (10), got 30"));
}

TEST(ClusterConfig, RejectsAFailureTimeoutShorterThanThreeHeartbeats) {
  EXPECT_TRUE(
      FailsWith(Parse(Edit(kValid, "failure_timeout_ms: 90", "failure_timeout_ms: 29")),
                "timing.failure_timeout_ms: must be at least 3 x heartbeat_ms (10), got 29"));
  EXPECT_TRUE(Parse(Edit(kValid, "failure_timeout_ms: 90", "failure_timeout_ms: 30")).ok());
}

TEST(ClusterConfig, RejectsAPairWithoutExactlyTwoReplicas) {
  const std::string three =
      Edit(kMinimal, "  - {name: b, port: 7420, client_port: 7426, http_port: 7421}\n",
           "  - {name: b, port: 7420, client_port: 7426, http_port: 7421}\n  - {name: c, port: "
           "7430, client_port: 7436, http_port: 7431}\n");
  EXPECT_TRUE(FailsWith(Parse(three), "replicas: a pair needs exactly 2 replicas, got 3"));
  const std::string one =
      Edit(kMinimal, "  - {name: b, port: 7420, client_port: 7426, http_port: 7421}\n", "");
  EXPECT_TRUE(FailsWith(Parse(one), "replicas: a pair needs exactly 2 replicas, got 1"));
}

TEST(ClusterConfig, RejectsAReplicaNameUsedTwice) {
  EXPECT_TRUE(FailsWith(Parse(Edit(kValid, "name: b", "name: a")),
                        "replicas[1].name: \"a\" is used twice"));
}

TEST(ClusterConfig, RejectsNamesOutsideTheAllowedCharacters) {
  EXPECT_TRUE(FailsWith(Parse(Edit(kValid, "name: kv-demo", "name: KV Demo")),
                        "name: \"KV Demo\" is not a name ([a-z0-9_-]{1,32})"));
  EXPECT_TRUE(FailsWith(Parse(Edit(kValid, "name: b", "name: " + std::string(33, 'b'))),
                        "replicas[1].name: \"bbbb"));
  EXPECT_TRUE(Parse(Edit(kValid, "name: b", "name: " + std::string(32, 'b'))).ok());
}

TEST(ClusterConfig, RejectsAnUnknownReplicationMode) {
  EXPECT_TRUE(FailsWith(Parse(Edit(kValid, "mode: async", "mode: fast")),
                        "replication.mode: must be sync or async, got \"fast\""));
}

TEST(ClusterConfig, RejectsAVersionThatIsNotMajorMinorPatch) {
  for (const char* bad : {"1.x", "1.0", "1.0.0.0", "1..0", "v1.0.0", "1.0.0-rc1"}) {
    EXPECT_TRUE(FailsWith(
        Parse(Edit(kValid, "version: 1.0.0", std::string("version: ") + bad)),
        std::string("processor.version: \"") + bad + "\" is not a version (MAJOR.MINOR.PATCH)"));
  }
}

TEST(ClusterConfig, RejectsAnUnknownLogLevelAndABadHost) {
  EXPECT_TRUE(
      FailsWith(Parse(Edit(kValid, "log_level: debug", "log_level: verbose")),
                "log_level: must be one of trace|debug|info|warn|error|off, got \"verbose\""));
  EXPECT_TRUE(FailsWith(Parse(Edit(kValid, "host: 127.0.0.2", "host: tcp://x")),
                        "replicas[1].host: \"tcp://x\" is not a host name or address"));
}

TEST(ClusterConfig, RejectsIntegersThatAreNotPositiveIntegers) {
  EXPECT_TRUE(FailsWith(Parse(Edit(kValid, "heartbeat_ms: 10", "heartbeat_ms: abc")),
                        "timing.heartbeat_ms: must be a positive integer, got \"abc\""));
  EXPECT_TRUE(FailsWith(Parse(Edit(kValid, "heartbeat_ms: 10", "heartbeat_ms: 1.5")),
                        "timing.heartbeat_ms: must be a positive integer, got \"1.5\""));
  EXPECT_TRUE(FailsWith(Parse(Edit(kValid, "client_timeout_ms: 70", "client_timeout_ms: 0")),
                        "timing.client_timeout_ms: must be a positive integer, got 0"));
  EXPECT_TRUE(FailsWith(Parse(Edit(kValid, "max_queue: 100", "max_queue: -5")),
                        "replication.max_queue: must be a positive integer, got -5"));
  EXPECT_TRUE(FailsWith(Parse(Edit(kValid, "backoff_ms: 0", "backoff_ms: -1")),
                        "restart.backoff_ms: must be a non-negative integer, got -1"));
  EXPECT_TRUE(FailsWith(Parse(Edit(kValid, "backoff_ms: 0", "backoff_ms: 0, backoff_max_ms: -1")),
                        "restart.backoff_max_ms: must be a non-negative integer, got -1"));
  EXPECT_TRUE(FailsWith(Parse(Edit(kValid, "window_s: 30", "window_s: [30]")),
                        "restart.window_s: must be a positive integer, got a list"));
}

TEST(ClusterConfig, RejectsAnIntegerTooLargeForItsField) {
  EXPECT_TRUE(
      FailsWith(Parse(Edit(kValid, "startup_timeout_ms: 5000", "startup_timeout_ms: 3000000000")),
                "timing.startup_timeout_ms: must be at most 2147483647, got 3000000000"));
  EXPECT_TRUE(FailsWith(Parse(Edit(kValid, "max_queue: 100", "max_queue: 99999999999999999999")),
                        "replication.max_queue: 99999999999999999999 is too large"));
}

TEST(ClusterConfig, RejectsASnapshotChunkThatDoesNotFitInAFrame) {
  EXPECT_TRUE(
      FailsWith(Parse(Edit(kValid, "snapshot_chunk_bytes: 4096", "snapshot_chunk_bytes: 65536")),
                "replication.snapshot_chunk_bytes: must be less than max_frame_bytes (65536)"));
}

TEST(ClusterConfig, RejectsAnUnknownFieldAnywhere) {
  EXPECT_TRUE(FailsWith(Parse(Edit(kValid, "lease_ms: 100", "leese_ms: 100")),
                        "timing.leese_ms: unknown field"));
  EXPECT_TRUE(FailsWith(Parse(Edit(kValid, "log_level:", "loglevel:")), "loglevel: unknown field"));
  EXPECT_TRUE(FailsWith(Parse(Edit(kValid, "http_port: 7411", "http_prot: 7411")),
                        "replicas[0].http_prot: unknown field"));
  EXPECT_TRUE(
      FailsWith(Parse(Edit(kValid, "binary:", "binray:")), "processor.binray: unknown field"));
  EXPECT_TRUE(FailsWith(Parse(Edit(kValid, "max_queue: 100", "max_queue: 100, queue: 1")),
                        "replication.queue: unknown field"));
}

TEST(ClusterConfig, RejectsAFieldWrittenTwice) {
  EXPECT_TRUE(FailsWith(Parse(Edit(kValid, "lease_ms: 100", "lease_ms: 100, lease_ms: 300")),
                        "timing.lease_ms: appears twice"));
}

TEST(ClusterConfig, ReportsBadIndentationWithItsLineInsteadOfThrowing) {
  const std::string bad = Edit(kValid, "  version: 1.0.0", "    version: 1.0.0");
  EXPECT_TRUE(FailsWith(Parse(bad), "line 9: "));
  EXPECT_TRUE(FailsWith(Parse("name: [a, b\n"), "line 2: "));
}

TEST(ClusterConfig, RejectsAListWhereAMapIsExpected) {
  EXPECT_TRUE(
      FailsWith(Parse("- name: a\n- name: b\n"), "config: must be a map of fields, got a list"));
  EXPECT_TRUE(
      FailsWith(Parse("just words\n"), "config: must be a map of fields, got a single value"));
  EXPECT_TRUE(FailsWith(Parse(std::string(kMinimal) + "timing:\n  - 20\n  - 200\n"),
                        "timing: must be a map of fields, got a list"));
  EXPECT_TRUE(FailsWith(
      Parse(Edit(kMinimal, "  - {name: a, port: 7410, client_port: 7416, http_port: 7411}",
                 "  - [a, 7410, 7411]")),
      "replicas[0]: must be a map of fields, got a list"));
  EXPECT_TRUE(FailsWith(Parse(Edit(kValid, "name: kv-demo", "name: {first: kv}")),
                        "name: must be a string, got a map"));
  EXPECT_TRUE(FailsWith(Parse("name: x\ndata_dir: d\nadmin_port: 1\ncontrol_port: 2\n"
                              "replicas: {a: 1}\nprocessor: {binary: b, version: 1.0.0}\n"),
                        "replicas: must be a list, got a map"));
}

TEST(ClusterConfig, RejectsASecondYamlDocument) {
  EXPECT_TRUE(FailsWith(Parse(std::string(kMinimal) + "---\nname: other\n"),
                        "config: holds 2 YAML documents"));
}

TEST(ClusterConfig, RoundTripsThroughYaml) {
  for (const char* text : {kValid, kMinimal}) {
    StatusOr<ClusterConfig> config = Parse(text);
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    const std::string yaml = ClusterConfigToYaml(*config);
    // Paths are absolute by now, so the base directory must not matter.
    StatusOr<ClusterConfig> again = ParseClusterConfig(yaml, "/elsewhere");
    ASSERT_TRUE(again.ok()) << again.status().ToString() << "\n" << yaml;
    ExpectSameConfig(*config, *again);
  }
}

TEST(ClusterConfig, ReadsAndRoundTripsTheChaosRouting) {
  std::string text = Edit(kValid, "    http_port: 7411\n",
                          "    http_port: 7411\n    peer_port: 7412\n    coordinator_port: 7413\n"
                          "    fault_file: /tmp/a.faults\n");
  StatusOr<ClusterConfig> config = Parse(text);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->replicas[0].peer_port, 7412);
  EXPECT_EQ(config->replicas[0].coordinator_port, 7413);
  EXPECT_EQ(config->replicas[0].fault_file, "/tmp/a.faults");
  EXPECT_EQ(config->replicas[1].peer_port, 0);
  StatusOr<ClusterConfig> again = ParseClusterConfig(ClusterConfigToYaml(*config), "/elsewhere");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->replicas[0].peer_port, 7412);
  EXPECT_EQ(again->replicas[0].coordinator_port, 7413);
  EXPECT_EQ(again->replicas[0].fault_file, "/tmp/a.faults");
  EXPECT_TRUE(FailsWith(Parse(Edit(text, "peer_port: 7412", "peer_port: 7420")),
                        "replicas[1].port: 7420 is already used by replicas[0].peer_port"));
}

TEST(ClusterConfig, RoundTripsStringsThatLookLikeOtherYamlTypes) {
  StatusOr<ClusterConfig> config = Parse(kMinimal);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  config->name = "null";
  config->replicas[0].name = "123";
  config->replicas[1].name = "yes";
  config->log_level = "off";
  config->processor.binary = "/opt/my kv: #1";
  StatusOr<ClusterConfig> again = Parse(ClusterConfigToYaml(*config));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  ExpectSameConfig(*config, *again);
}

TEST(ClusterConfig, ResolvesRelativePathsAgainstTheBaseDirAndKeepsAbsoluteOnes) {
  StatusOr<ClusterConfig> config = ParseClusterConfig(
      Edit(Edit(kValid, "../data", "./x/../demo-data"), "bin/kv-1.0.0", "/usr/bin/kv"),
      "/srv/duplex/examples");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->data_dir, "/srv/duplex/examples/demo-data");
  EXPECT_EQ(config->processor.binary, "/usr/bin/kv");

  StatusOr<ClusterConfig> from_cwd = ParseClusterConfig(kValid, "rel");
  ASSERT_TRUE(from_cwd.ok()) << from_cwd.status().ToString();
  EXPECT_EQ(from_cwd->processor.binary,
            (fs::current_path() / "rel/bin/kv-1.0.0").lexically_normal().string());
}

TEST(ClusterConfig, LoadResolvesPathsAgainstTheFilesDirectory) {
  const fs::path dir = FreshDir("load");
  fs::create_directories(dir / "conf");
  WriteFile(dir / "conf/cluster.yaml", kValid);
  StatusOr<ClusterConfig> config = LoadClusterConfig((dir / "conf/../conf/cluster.yaml").string());
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  const fs::path root = fs::absolute(dir).lexically_normal();
  EXPECT_EQ(config->source_path, (root / "conf/cluster.yaml").string());
  EXPECT_EQ(config->data_dir, (root / "data").string());
  EXPECT_EQ(config->processor.binary, (root / "conf/bin/kv-1.0.0").string());
}

TEST(ClusterConfig, LoadNamesTheFileInItsErrors) {
  const fs::path dir = FreshDir("load_error");
  const std::string path = (dir / "cluster.yaml").string();
  WriteFile(path, Edit(kValid, "port: 7420", "port: 70000"));
  StatusOr<ClusterConfig> config = LoadClusterConfig(path);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(config.status().message(), path + ": replicas[1].port: 70000 is not a port (1..65535)");
}

TEST(ClusterConfig, LoadReportsAMissingFile) {
  const std::string path = (FreshDir("missing") / "nope.yaml").string();
  StatusOr<ClusterConfig> config = LoadClusterConfig(path);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), Code::kIOError);
  EXPECT_EQ(config.status().message(), path + ": cannot read: No such file or directory");
}

TEST(ClusterConfig, LoadReportsADirectory) {
  const std::string path = FreshDir("directory").string();
  StatusOr<ClusterConfig> config = LoadClusterConfig(path);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().message(), path + ": cannot read: Is a directory");
}

// The demo's file is what operators copy; it must stay valid. Tests run from the repository root.
TEST(ClusterConfig, TheDemoClusterFileIsValid) {
  StatusOr<ClusterConfig> config = LoadClusterConfig("examples/kv/cluster.yaml");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->name, "kv-demo");
  EXPECT_EQ(config->processor.version, "1.0.0");
  EXPECT_TRUE(fs::path(config->processor.binary).is_absolute());
}

}  // namespace
}  // namespace duplex
