// ClusterFixture: a real cluster for tests, the demo and benchmarks — a node
// agent (which runs the two replica processes on free loopback ports, with RocksDB
// under a fresh scratch directory) and a coordinator, both children of this process
// and so stopped by their PIDs; or, with `hosts`, a lab of that many hosts (chaos/lab),
// taken down (its isolation healed) when the fixture stops. Every wait is bounded.
// Not thread-safe.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "chaos/lab/lab.h"
#include "common/status.h"
#include "upgrade_coordinator/cluster_config.h"

namespace duplex {

struct FixtureOptions {
  std::string
      build_dir;    // where duplex and examples/kv/kv-1.0.0 are; "" = $DUPLEX_BUILD_DIR or ./build
  std::string dir;  // scratch directory, wiped at start
  std::string processor;  // the replicas' binary under build_dir; "" = examples/kv/kv-1.0.0
  ReplicationMode mode = ReplicationMode::kSync;
  TimingConfig timing;
  RestartConfig restart{10, 60, 50};
  uint64_t log_retain_ops = 200000;
  std::string log_level = "info";
  int ready_timeout_ms = 20000;
  // CURVE on every ZeroMQ link: a key pair per member under <dir>/keys (with hosts, the lab's
  // <dir>/lab/keys), set in the config's security section before `configure` sees it.
  // false: plain links, for a benchmark's baseline beside its secure run.
  bool curve = true;
  // Last word on the cluster's config before it is written (chaos: proxies, fault files).
  std::function<void(ClusterConfig*)> configure;
  // 0: one host. 2 or more: a lab (needs root for isolation), its hosts h1..hN at
  // 127.0.<lab_first_host>.1 onwards, the replicas on h1 and h2, the lab under <dir>/lab.
  int hosts = 0;
  int lab_first_host = 1;
  // With hosts >= 3: an etcd member and a coordinator on each of h1..h3 (`lab up --etcd`).
  bool etcd = false;
  // The ports the config takes, in [port_first, port_last]; 0 = any free port.
  int port_first = 0;
  int port_last = 0;
};

class ClusterFixture {
 public:
  static StatusOr<std::unique_ptr<ClusterFixture>> Start(FixtureOptions options);
  ~ClusterFixture();
  ClusterFixture(const ClusterFixture&) = delete;
  ClusterFixture& operator=(const ClusterFixture&) = delete;

  // Shuts everything down through the coordinator, then kills by PID whatever is left.
  void Stop();
  // SIGKILL of the coordinator alone (its replicas keep running), then a new one on the
  // same data: it adopts the running replicas and resumes what was under way.
  duplex::Status KillAndRestartCoordinator();
  // The two halves, for a coordinator that stays down a while.
  void KillCoordinator();
  duplex::Status RestartCoordinator();
  // A torn kill: the coordinator exits by itself right after its n-th durable write of
  // the kind named ("any" or "reload"), before acting on it (chaos/hooks/crash_point.h).
  duplex::Status ArmCoordinatorCrash(const std::string& after, int n);
  void DisarmCoordinatorCrash();
  // Reaps the coordinator if it has exited; true when none runs.
  bool CoordinatorExited();

  const ClusterConfig& config() const { return config_; }
  // The config pointed at the acting coordinator (host and admin_port), for admin calls; the
  // config itself when there is one coordinator or none is known to lead.
  ClusterConfig AdminConfig() const;
  pid_t coordinator_pid() const { return coordinator_pid_; }
  pid_t agent_pid() const { return agent_pid_; }
  // SIGKILL of the agent alone (its replicas keep running), then a new one that adopts them.
  duplex::Status KillAndRestartAgent();
  std::vector<std::string> Endpoints() const;

  StatusOr<nlohmann::json> Status() const;
  // Waits until pred(status) holds; the error names the last status seen.
  duplex::Status WaitFor(const std::function<bool(const nlohmann::json&)>& pred, int timeout_ms,
                         const std::string& what) const;
  duplex::Status WaitReady(int timeout_ms) const;  // active serving, standby in sync, caught up

  StatusOr<std::string> ActiveName() const;
  StatusOr<pid_t> PidOf(const std::string& replica) const;
  StatusOr<uint64_t> Epoch() const;
  // Sends sig to the replica's process (by the PID the coordinator reports).
  StatusOr<pid_t> SignalReplica(const std::string& replica, int sig) const;

  // A GET on the replica's HTTP port ("/metrics"): the body, whatever the status code. Over
  // HTTPS and with the admin token when the config has them.
  StatusOr<std::string> ReplicaHttpGet(const std::string& replica, const std::string& path) const;
  // Replica /status JSON (counters) straight from the replica's HTTP port.
  StatusOr<nlohmann::json> ReplicaStatus(const std::string& replica) const;
  // "digest keys applied_seq" of each replica; equal strings mean equal state.
  StatusOr<std::vector<std::string>> Digests() const;
  // Waits until both replicas report the same digest at the same seq.
  duplex::Status WaitConverged(int timeout_ms) const;

  // Lines of the process logs that report a sanitizer error, a failed assertion or a
  // fatal error: a process that crashed for one of these was failed over silently.
  std::vector<std::string> LogFindings() const;

  // --- a lab's hosts (FailedPrecondition on one host) --------------------------------
  bool lab() const { return lab_.has_value(); }
  // The host a replica runs on ("" when unknown).
  std::string HostOfReplica(const std::string& replica) const;
  StatusOr<int> CrashHost(const std::string& host);  // processes killed (and reaped)
  StatusOr<int> FreezeHost(const std::string& host);
  StatusOr<int> ThawHost(const std::string& host);
  // Starts what the host runs (its agent) unless it runs already: a crashed host boots.
  duplex::Status BootHost(const std::string& host);
  // direction: both | in (the host hears nobody) | out (nobody hears the host).
  duplex::Status IsolateHost(const std::string& host, const std::string& direction);
  duplex::Status HealHosts();
  // SIGKILL of the host's agent alone (its replicas keep running); its pid.
  StatusOr<pid_t> KillAgent(const std::string& host);

  // --- a lab's coordinators and etcd members (FailedPrecondition without etcd) ----------
  bool etcd() const { return lab_.has_value() && !lab_->state().etcd.empty(); }
  // The host of the acting coordinator, by asking them all (bounded).
  StatusOr<std::string> LeaderHost() const;
  // The hosts that run a coordinator, and those that run an etcd member.
  std::vector<std::string> CoordinatorHosts() const;
  // Signals the coordinator of `host`, reaping it when it was killed; its pid.
  StatusOr<pid_t> SignalCoordinator(const std::string& host, int sig);
  duplex::Status StartCoordinator(const std::string& host);
  StatusOr<pid_t> KillEtcdMember(const std::string& host);
  duplex::Status StartEtcdMember(const std::string& host);
  // Cuts the coordinator of `host` from "etcd" (the host's traffic on the etcd ports, to and
  // from other hosts) or from "replicas" (its control port); HealHosts undoes it.
  duplex::Status IsolateCoordinator(const std::string& host, const std::string& from);
  // Every coordinator's event log: <host dir>/coordinator/events.jsonl each with several,
  // <data_dir>/events.jsonl with one.
  std::vector<std::string> EventLogPaths() const;

 private:
  ClusterFixture() = default;
  duplex::Status SpawnCoordinator();
  duplex::Status SpawnAgent();
  void RememberOrphans();  // the replicas' pids, known from the coordinator's status
  std::string CrashPointFile() const { return config_.data_dir + "/coordinator.crashpoint"; }

 public:
  // The control file of the storage faults under the record store of the coordinator (one
  // host): chaos/hooks/fault_fs.h. Absent: no faults.
  std::string CoordinatorFaultFile() const { return config_.data_dir + "/coordinator.faults"; }

 private:
  std::string duplex_binary_;
  ClusterConfig config_;
  std::string config_path_;
  pid_t coordinator_pid_ = 0;
  pid_t agent_pid_ = 0;
  std::vector<pid_t> orphans_;  // replicas started by a coordinator we killed
  bool stopped_ = false;
  std::string dir_;              // the scratch directory (logs are searched under it)
  std::optional<lab::Lab> lab_;  // set when the cluster runs on a lab
  int etcd_client_port_ = 0, etcd_peer_port_ = 0;  // a lab with etcd
  mutable std::string leader_host_;                // the last acting coordinator seen
  duplex::Status StartLab(const FixtureOptions& options, const ClusterConfig& made);
  void ReapHostRecords(const std::string& host);
};

}  // namespace duplex
