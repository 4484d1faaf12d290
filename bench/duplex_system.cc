#include "bench/duplex_system.h"

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "chaos/upgrade_run.h"
#include "chaos/workload.h"
#include "common/clock.h"
#include "common/net.h"
#include "replica/tls.h"
#include "upgrade_coordinator/admin_client.h"
#include "upgrade_coordinator/admin_http.h"

namespace duplex::bench {
namespace {

// The endpoint of the replica serving now.
StatusOr<std::string> ActiveEndpoint(const ClusterFixture& cluster) {
  auto active = cluster.ActiveName();
  if (!active.ok()) return active.status();
  for (const auto& r : cluster.config().replicas) {
    if (r.name == *active) return TcpEndpoint(r.host, r.client_port);
  }
  return NotFound("no replica named " + *active);
}

int IndexOf(const ClusterFixture& cluster, const std::string& name) {
  return cluster.config().replicas[0].name == name ? 0 : 1;
}

WorkloadOptions Writers(const ClusterFixture& cluster, const std::string& prefix) {
  WorkloadOptions w;
  w.endpoints = cluster.Endpoints();
  w.clients = 3;
  w.attempt_timeout_ms = 50;
  w.key_prefix = prefix;
  w.incr = false;  // unique keys, as on the peer
  return w;
}

// Starts `writers` once the pair is ready and waits for 200 acknowledged writes; the name
// of the active they write to.
StatusOr<std::string> StartWriting(ClusterFixture& c, Workload& writers) {
  DUPLEX_RETURN_IF_ERROR(c.WaitReady(20000));
  writers.Start();
  Status warm = writers.WaitAcked(200, 10000);
  auto active = c.ActiveName();
  if (warm.ok() && active.ok()) return active;
  writers.Stop();
  return !warm.ok() ? warm : active.status();
}

// `duplex keys init --tls`'s credentials in `dir` (a CA and certificates, a client password
// and an admin token, secrets mode 0600) and what names them in the config's security:.
StatusOr<std::function<void(ClusterConfig*)>> SecureAccess(const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directories(dir, ec);
  if (ec) return IOError("cannot create " + dir + ": " + ec.message());
  auto files = WriteTlsFiles(dir + "/tls", {});
  if (!files.ok()) return files.status();
  for (const char* name : {"admin.token", "client.password"}) {
    auto secret = RandomHex(32);
    if (!secret.ok()) return secret.status();
    const std::string path = dir + "/" + name;
    std::ofstream(path) << *secret << "\n";
    std::filesystem::permissions(
        path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, ec);
    if (ec) return IOError("cannot write " + path + ": " + ec.message());
  }
  return std::function<void(ClusterConfig*)>([dir](ClusterConfig* c) {
    c->security.admin_token_file = dir + "/admin.token";
    c->security.client_password_file = dir + "/client.password";
    TlsConfig tls;
    tls.cert_file = dir + "/tls/server.crt";
    tls.key_file = dir + "/tls/server.key";
    tls.ca_file = dir + "/tls/ca.crt";
    c->security.tls = tls;
  });
}

}  // namespace

double ResidentMb(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // kB
  }
  return 0;
}

std::string DuplexSystem::Describe() const {
  return "kv 1.0.0 pair on RocksDB, fsync on every commit on both replicas; heartbeat 20 ms, "
         "lease 200 ms; standby lag measured by the standby (receipt to apply); " +
         std::string(options_.curve ? "CURVE on every ZeroMQ link" : "plain ZeroMQ links") +
         (options_.tls ? "; TLS 1.3 on the client and HTTP ports, clients AUTH with a password"
                       : "; plain TCP client port");
}

StatusOr<ClusterFixture*> DuplexSystem::Cluster(const std::string& name) {
  auto it = clusters_.find(name);
  if (it != clusters_.end()) return it->second.get();
  FixtureOptions fo;
  fo.build_dir = options_.build_dir;
  fo.dir = options_.scratch + "/" + name;
  fo.log_level = "warn";
  fo.mode = name == "async" ? ReplicationMode::kAsync : ReplicationMode::kSync;
  fo.restart.restarts_max = 1000;  // the failover trials kill the active again and again
  fo.curve = options_.curve;
  if (options_.tls) {
    auto access = SecureAccess(options_.scratch + "/" + name + "-credentials");
    if (!access.ok()) return access.status();
    fo.configure = *access;
  }
  auto cluster = ClusterFixture::Start(fo);
  if (!cluster.ok()) return cluster.status();
  return (clusters_[name] = std::move(cluster).value()).get();
}

StatusOr<LoadTrial> DuplexSystem::Load(const LoadSpec& spec) { return LoadWith(spec, nullptr); }

StatusOr<LoadTrial> DuplexSystem::LoadWith(const LoadSpec& spec, const LoadHook& around) {
  auto cluster = Cluster(spec.sync ? "sync" : "async");
  if (!cluster.ok()) return cluster.status();
  DUPLEX_RETURN_IF_ERROR((*cluster)->WaitReady(20000));
  auto endpoint = ActiveEndpoint(**cluster);
  if (!endpoint.ok()) return endpoint.status();
  auto access = ReplicaClientOptions((*cluster)->config());  // TLS and the password, if any
  if (!access.ok()) return access.status();
  LoadOptions lo{ShapeOf(spec, "l" + std::to_string(++trials_) + "-"), *endpoint,
                 access->tls_ca_file, access->password};
  std::vector<pid_t> pids = {(*cluster)->coordinator_pid()};
  auto active = (*cluster)->ActiveName();
  pid_t active_pid = -1, standby_pid = -1;
  for (const auto& r : (*cluster)->config().replicas) {
    auto pid = (*cluster)->PidOf(r.name);
    if (!pid.ok() || *pid <= 0) continue;
    pids.push_back(*pid);
    (active.ok() && r.name == *active ? active_pid : standby_pid) = *pid;
  }
  double cpu_before = CpuSeconds(pids);
  StatusOr<LoadResult> result =
      around ? around(active_pid, standby_pid, [&] { return RunLoad(lo); }) : RunLoad(lo);
  if (!result.ok()) return result.status();
  LoadTrial trial{std::move(result).value()};
  trial.server_cpu_s = CpuSeconds(pids) - cpu_before;
  for (const auto& r : (*cluster)->config().replicas) {
    if (active.ok() && r.name == *active) continue;
    if (auto st = (*cluster)->ReplicaStatus(r.name); st.ok()) {
      trial.lag_ms_p50 = st->value("lag_ms_p50", 0.0);
      trial.lag_ms_p99 = st->value("lag_ms_p99", 0.0);
    }
  }
  return trial;
}

StatusOr<FailoverTrial> DuplexSystem::Failover(int signal) {
  auto cluster = Cluster("faults");
  if (!cluster.ok()) return cluster.status();
  ClusterFixture& c = **cluster;
  Workload writers(Writers(c, "f" + std::to_string(++trials_) + "-"));
  auto active = StartWriting(c, writers);
  if (!active.ok()) return active.status();
  int64_t t0 = NowUs();
  auto pid = c.SignalReplica(*active, signal);
  if (!pid.ok()) {
    writers.Stop();
    return pid.status();
  }
  FailoverTrial trial;
  int64_t first = -1;
  for (int i = 0; i < 5000 && first < 0; ++i) {  // bounded: 10 s
    SleepMs(2);
    first = writers.FirstAckAfter(t0, IndexOf(c, *active));
  }
  if (first > 0) trial.first_ack_ms = (first - t0) / 1000.0;
  if (signal == SIGSTOP) ::kill(*pid, SIGCONT);
  (void)writers.WaitAcked(writers.acked() + 50, 10000);
  writers.Stop();
  trial.lost = writers.Check().lost;
  DUPLEX_RETURN_IF_ERROR(c.WaitReady(30000));
  return trial;
}

StatusOr<SwitchoverTrial> DuplexSystem::Switchover() {
  auto cluster = Cluster("faults");
  if (!cluster.ok()) return cluster.status();
  ClusterFixture& c = **cluster;
  Workload writers(Writers(c, "s" + std::to_string(++trials_) + "-"));
  auto active = StartWriting(c, writers);
  if (!active.ok()) return active.status();
  int64_t t0 = NowUs();
  auto done = Post(c.config(), "/switchover", 10000);
  // Refused while the coordinator still records the standby out of sync: ask once ready.
  for (int retry = 0;
       retry < 20 && !done.ok() && done.status().message().find("out of sync") != std::string::npos;
       ++retry) {
    (void)c.WaitReady(15000);
    t0 = NowUs();
    done = Post(c.config(), "/switchover", 10000);
  }
  if (!done.ok()) {
    writers.Stop();
    return done.status();
  }
  (void)writers.WaitAcked(writers.acked() + 100, 10000);
  SwitchoverTrial trial;
  trial.unavailability_ms = writers.LongestAckGap(t0, NowUs()).length_us / 1000.0;
  writers.Stop();
  trial.lost = writers.Check().lost;
  DUPLEX_RETURN_IF_ERROR(c.WaitReady(30000));
  return trial;
}

StatusOr<MemoryTrial> DuplexSystem::LoadKeys(ClusterFixture& cluster, uint64_t keys) {
  auto endpoint = ActiveEndpoint(cluster);
  if (!endpoint.ok()) return endpoint.status();
  auto access = ReplicaClientOptions(cluster.config());
  if (!access.ok()) return access.status();
  LoadOptions lo{BulkLoadShape(keys), *endpoint, access->tls_ca_file, access->password};
  auto loaded = RunLoad(lo);
  if (!loaded.ok()) return loaded.status();
  DUPLEX_RETURN_IF_ERROR(CheckBulkLoaded(keys, *loaded));
  DUPLEX_RETURN_IF_ERROR(cluster.WaitReady(60000));
  loaded_keys_ = keys;
  return MemoryTrial{keys, loaded->seconds, 0, 0};
}

StatusOr<MemoryTrial> DuplexSystem::Memory(uint64_t keys) {
  clusters_.erase("loaded");
  auto cluster = Cluster("loaded");
  if (!cluster.ok()) return cluster.status();
  auto trial = LoadKeys(**cluster, keys);
  if (!trial.ok()) return trial.status();
  SleepMs(1000);  // let the replicas settle (memtable flushes, compaction) before reading
  auto active = (*cluster)->ActiveName();
  if (!active.ok()) return active.status();
  for (const auto& r : (*cluster)->config().replicas) {
    auto pid = (*cluster)->PidOf(r.name);
    if (!pid.ok()) return pid.status();
    (r.name == *active ? trial->active_mb : trial->standby_mb) = ResidentMb(*pid);
  }
  return trial;
}

StatusOr<UpgradeTrial> DuplexSystem::Upgrade(
    uint64_t keys, double steady_seconds, const std::function<void(const std::string&)>& progress) {
  if (clusters_.count("loaded") == 0 || loaded_keys_ != keys) {
    clusters_.erase("loaded");
    auto cluster = Cluster("loaded");
    if (!cluster.ok()) return cluster.status();
    auto loaded = LoadKeys(**cluster, keys);
    if (!loaded.ok()) return loaded.status();
  }
  ClusterFixture& c = *clusters_.at("loaded");
  Workload writers(Writers(c, "u" + std::to_string(++trials_) + "-"));
  writers.Start();
  (void)writers.WaitAcked(100, 10000);
  progress("  the same load without a campaign, " +
           std::to_string(static_cast<int>(steady_seconds * 1000)) + " ms");
  int64_t steady_from = NowUs();
  SleepMs(static_cast<int>(steady_seconds * 1000));
  int64_t steady_to = NowUs();
  UpgradeRunOptions ro;
  ro.package_dir =
      std::filesystem::absolute(std::filesystem::path(options_.build_dir) / "packages" / "kv-2.0.0")
          .string();
  ro.progress = progress;
  auto run = RunUpgrade(c, writers, ro);
  (void)writers.WaitAcked(writers.acked() + 100, 10000);
  writers.Stop();
  loaded_keys_ = 0;  // upgraded: the next Memory() or Upgrade() starts afresh
  if (!run.ok()) return run.status();
  CheckResult check = writers.Check();
  UpgradeTrial trial;
  trial.keys = keys;
  trial.end = run->end;
  trial.outcome = !run->end                                 ? run->outcome
                  : *run->end == CampaignState::kRolledBack ? "rolled_back"
                                                            : duplex::Name(*run->end);
  trial.duration_ms = run->duration_ms;
  trial.unavailability_ms = run->unavailability_ms;
  trial.unavailability_at_ms = run->unavailability_at_ms;
  trial.unavailability_step = run->unavailability_step;
  trial.gap_by_step_ms = run->gap_by_step_ms;
  trial.steady_window_ms = (steady_to - steady_from) / 1000.0;
  trial.steady_gap_ms = writers.LongestAckGap(steady_from, steady_to).length_us / 1000.0;
  trial.failed_requests = run->failed_requests;
  trial.lost = check.lost;
  trial.double_applied = check.double_applied;
  return trial;
}

}  // namespace duplex::bench
