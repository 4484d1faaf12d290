// The lab side of `bench coordinator`: a kv pair on h1 and h2 of a three-host lab with etcd,
// a coordinator on each host; the leading one SIGKILLed (alone, or with the active's host
// crashed 100 ms later) under the recording workload of the two-host failover bench.
#include "bench/coordinator_bench.h"

#include <signal.h>

#include <algorithm>
#include <optional>
#include <string>

#include "chaos/lab/lab.h"
#include "chaos/workload.h"
#include "common/clock.h"
#include "common/subprocess.h"
#include "upgrade_coordinator/admin_client.h"
#include "upgrade_coordinator/coordinator_finder.h"

namespace duplex::bench {
namespace {

constexpr int kReadyTimeoutMs = 60000;      // a leader, an active, its standby in sync
constexpr int kNewLeaderTimeoutMs = 15000;  // leader killed -> a survivor leads
constexpr int kFirstAckTimeoutMs = 20000;   // host crashed -> first ack on the other replica
constexpr int kProbeTimeoutMs = 200;        // one /status of a survivor
constexpr int kPollMs = 2;                  // "every few ms", between rounds of /status
// The failover window runs on this long after the new leader says it leads: its first acts
// (assignments, desired states) fall inside it.
constexpr int kSettleMs = 500;
// The writers run this long before the kill: the steady window is cut from it.
constexpr int kSteadyMs = 3000;
constexpr int kCombinedDelayMs = 100;  // leader killed -> the active's host crashed

// What the lab says before a trial: who leads, in which term, and who is active.
struct Before {
  std::string leader_host;
  uint64_t term = 0;
  std::string active;
  int index = -1;  // the active's index in the config's replicas (the workload's endpoints)
  std::string active_host;
};

class CoordinatorLabImpl final : public CoordinatorLab {
 public:
  explicit CoordinatorLabImpl(LabOptions options) : options_(std::move(options)) {}
  ~CoordinatorLabImpl() override { Stop(); }

  std::string Describe() const override {
    return "kv 1.0.0 pair in sync mode on a lab of three hosts with etcd (a on h1 " +
           LabAddress(options_, 0) + ", b on h2 " + LabAddress(options_, 1) + ", h3 " +
           LabAddress(options_, 2) +
           "), an etcd member, an agent and a coordinator on each host; etcd heartbeat " +
           std::to_string(lab::kEtcdHeartbeatMs) + " ms, election " +
           std::to_string(lab::kEtcdElectionMs) + " ms, leader lease ttl " +
           std::to_string(lab::kEtcdLeaseTtlS) + " s; default pair timing";
  }

  StatusOr<LeaderFailoverTrial> LeaderFailover() override;
  StatusOr<CombinedTrial> LeaderKillThenActiveHostCrash() override;

  void Stop() override {
    if (!lab_) return;
    (void)lab_->Down();
    lab_.reset();
  }

 private:
  StatusOr<lab::Lab*> Lab();
  ClusterConfig MakeConfig();
  StatusOr<Before> WaitReady();
  // The writers started and acknowledged 200 writes (stopped again when they cannot).
  StatusOr<std::unique_ptr<Workload>> StartWarmWriters();
  // Polls the coordinators other than `killed` until one says it leads in a term above `term`.
  StatusOr<int64_t> WaitNewLeader(const std::string& killed, uint64_t term);
  // The killed coordinator reaped and started again (a crashed host booted first).
  Status Restart(const std::string& coordinator_host, const std::string& crashed_host);

  LabOptions options_;
  PortSource ports_{options_.first_port};
  std::optional<lab::Lab> lab_;
  ClusterConfig config_;  // the lab's
  std::string duplex_binary_;
  int trials_ = 0;
};

ClusterConfig CoordinatorLabImpl::MakeConfig() {
  ClusterConfig c;
  c.name = "bench-coordinators";
  c.data_dir = options_.scratch + "/data";
  c.admin_port = ports_.Next();
  c.control_port = ports_.Next();
  c.processor.binary = options_.build_dir + "/examples/kv/kv-1.0.0";
  c.processor.version = "1.0.0";
  for (const char* name : {"a", "b"}) {
    ReplicaConfig r;
    r.name = name;
    r.port = ports_.Next();
    r.client_port = ports_.Next();
    r.http_port = ports_.Next();
    c.replicas.push_back(r);
  }
  c.restart.restarts_max = 1000;  // the combined trials crash the active's host
  c.log_level = "warn";
  return c;
}

StatusOr<lab::Lab*> CoordinatorLabImpl::Lab() {
  if (lab_) return &*lab_;
  DUPLEX_RETURN_IF_ERROR(PrepareLabScratch(&options_));
  duplex_binary_ = options_.build_dir + "/duplex";
  lab::LabUpOptions up;
  up.hosts = 3;
  up.dir = options_.scratch + "/lab";
  up.first_host_number = options_.first_host;
  up.etcd = true;
  up.curve = options_.curve;
  const ClusterConfig config = MakeConfig();
  up.etcd_client_port = ports_.Next();
  up.etcd_peer_port = ports_.Next();
  StatusOr<lab::LabPlan> plan = lab::PlanLab(config, up);
  if (!plan.ok()) return plan.status();
  StatusOr<lab::Lab> started = lab::Lab::Start(*plan, duplex_binary_);
  if (!started.ok()) {
    // What did start is recorded in lab.json: take it down.
    if (StatusOr<lab::Lab> open = lab::Lab::Open(plan->dir); open.ok()) (void)open->Down();
    return started.status();
  }
  lab_.emplace(std::move(*started));
  StatusOr<ClusterConfig> written = lab_->Config();  // as written: with the keys the lab made
  if (!written.ok()) return written.status();
  config_ = *written;
  return &*lab_;
}

StatusOr<Before> CoordinatorLabImpl::WaitReady() {
  StatusOr<lab::Lab*> lab = Lab();
  if (!lab.ok()) return lab.status();
  std::string last = "never asked";
  for (int64_t deadline = NowUs() + kReadyTimeoutMs * int64_t{1000}; NowUs() < deadline;
       SleepMs(20)) {
    StatusOr<nlohmann::json> status = (*lab)->LeaderStatus(kProbeTimeoutMs);
    if (!status.ok()) {
      last = status.status().message();
      continue;
    }
    if (!PairReady(*status)) {
      last = "the pair is not in sync";
      continue;
    }
    Before b;
    const nlohmann::json self = status->value("coordinator", nlohmann::json::object());
    b.leader_host = self.value("host", "");
    b.term = self.value("term", uint64_t{0});
    b.active = status->value("active", "");
    for (std::size_t i = 0; i < config_.replicas.size(); ++i) {
      if (config_.replicas[i].name != b.active) continue;
      b.index = static_cast<int>(i);
      b.active_host = config_.replicas[i].host_name;
    }
    if (b.index < 0 || b.leader_host.empty()) {
      last = "the leader names active '" + b.active + "' and host '" + b.leader_host + "'";
      continue;
    }
    return b;
  }
  return Unavailable("no leader with a synced pair within " + std::to_string(kReadyTimeoutMs) +
                     " ms: " + last);
}

StatusOr<std::unique_ptr<Workload>> CoordinatorLabImpl::StartWarmWriters() {
  WorkloadOptions w;
  w.endpoints = ReplicaEndpoints(config_);
  w.clients = 3;
  w.attempt_timeout_ms = 50;
  w.key_prefix = "c" + std::to_string(++trials_) + "-";
  w.incr = false;  // unique keys, as in the two-host bench
  auto writers = std::make_unique<Workload>(w);
  writers->Start();
  if (Status warm = writers->WaitAcked(200, 10000); !warm.ok()) {
    writers->Stop();
    return warm;
  }
  return writers;
}

StatusOr<int64_t> CoordinatorLabImpl::WaitNewLeader(const std::string& killed, uint64_t term) {
  ClusterConfig survivors = config_;
  std::erase_if(survivors.coordinators,
                [&](const CoordinatorConfig& c) { return c.host_name == killed; });
  for (int64_t deadline = NowUs() + kNewLeaderTimeoutMs * int64_t{1000}; NowUs() < deadline;
       SleepMs(kPollMs)) {
    const LeaderSearch search = FindLeader(survivors, kProbeTimeoutMs, Probing::kUntilLeader);
    const CoordinatorProbe* leader = search.Leader();
    if (leader == nullptr) continue;
    const nlohmann::json self = leader->status->value("coordinator", nlohmann::json::object());
    if (self.value("term", uint64_t{0}) > term) return NowUs();
  }
  return Unavailable("no coordinator but " + killed + "'s leads in a term above " +
                     std::to_string(term) + " within " + std::to_string(kNewLeaderTimeoutMs) +
                     " ms");
}

Status CoordinatorLabImpl::Restart(const std::string& coordinator_host,
                                   const std::string& crashed_host) {
  lab::Lab& lab = *lab_;
  // Our children, the killed processes, are reaped before they are started again.
  for (const lab::LabProcessRecord& p : lab.state().processes) {
    const bool killed = p.host == crashed_host ||
                        (p.host == coordinator_host && p.role == lab::LabRole::kCoordinator);
    if (killed) (void)WaitExited(p.pid, 1000);
  }
  if (!crashed_host.empty()) {
    DUPLEX_RETURN_IF_ERROR(lab.StartHost(crashed_host, duplex_binary_).status());
  }
  return lab.Start(lab::LabRole::kCoordinator, coordinator_host, duplex_binary_).status();
}

StatusOr<LeaderFailoverTrial> CoordinatorLabImpl::LeaderFailover() {
  StatusOr<Before> before = WaitReady();
  if (!before.ok()) return before.status();
  StatusOr<std::unique_ptr<Workload>> started = StartWarmWriters();
  if (!started.ok()) return started.status();
  std::unique_ptr<Workload> writers = std::move(started).value();
  const int64_t writing = NowUs();
  SleepMs(kSteadyMs);
  const int64_t t0 = NowUs();
  StatusOr<pid_t> killed = lab_->Signal(lab::LabRole::kCoordinator, before->leader_host, SIGKILL);
  StatusOr<int64_t> acting = killed.ok() ? WaitNewLeader(before->leader_host, before->term)
                                         : StatusOr<int64_t>(killed.status());
  if (acting.ok()) SleepMs(kSettleMs);
  const int64_t end = NowUs();
  Status back = killed.ok() ? Restart(before->leader_host, "") : Status::Ok();
  (void)writers->WaitAcked(writers->acked() + 50, 10000);
  writers->Stop();
  if (!acting.ok()) return acting.status();
  LeaderFailoverTrial trial;
  trial.leader_failover_ms = (*acting - t0) / 1000.0;
  trial.window_ms = (end - t0) / 1000.0;
  trial.gap_ms = writers->LongestAckGap(t0, end).length_us / 1000.0;
  const int64_t steady_from = std::max(writing, t0 - (end - t0));
  trial.steady_window_ms = (t0 - steady_from) / 1000.0;
  trial.steady_gap_ms = writers->LongestAckGap(steady_from, t0).length_us / 1000.0;
  trial.lost = writers->Check().lost;
  DUPLEX_RETURN_IF_ERROR(back);
  return trial;
}

StatusOr<CombinedTrial> CoordinatorLabImpl::LeaderKillThenActiveHostCrash() {
  StatusOr<Before> before = WaitReady();
  if (!before.ok()) return before.status();
  StatusOr<std::unique_ptr<Workload>> started = StartWarmWriters();
  if (!started.ok()) return started.status();
  std::unique_ptr<Workload> writers = std::move(started).value();
  CombinedTrial trial;
  trial.same_host = before->leader_host == before->active_host;
  const int64_t t_kill = NowUs();
  StatusOr<pid_t> killed = lab_->Signal(lab::LabRole::kCoordinator, before->leader_host, SIGKILL);
  SleepMs(kCombinedDelayMs);  // the fault's timing, not a synchronisation
  const int64_t t_crash = NowUs();
  StatusOr<int> crashed =
      killed.ok() ? lab_->Crash(before->active_host) : StatusOr<int>(killed.status());
  int64_t first = -1;
  for (int64_t deadline = t_crash + kFirstAckTimeoutMs * int64_t{1000};
       crashed.ok() && first < 0 && NowUs() < deadline;) {
    SleepMs(1);
    first = writers->FirstAckAfter(t_crash, before->index);
  }
  Status back = killed.ok() ? Restart(before->leader_host, crashed.ok() ? before->active_host : "")
                            : Status::Ok();
  (void)writers->WaitAcked(writers->acked() + 50, 10000);
  writers->Stop();
  if (!crashed.ok()) return crashed.status();
  if (first > 0) {
    trial.first_ack_ms = (first - t_crash) / 1000.0;
    trial.first_ack_from_leader_kill_ms = (first - t_kill) / 1000.0;
  }
  trial.lost = writers->Check().lost;
  DUPLEX_RETURN_IF_ERROR(back);
  return trial;
}

}  // namespace

std::unique_ptr<CoordinatorLab> MakeCoordinatorLab(const LabOptions& options) {
  return std::make_unique<CoordinatorLabImpl>(options);
}

}  // namespace duplex::bench
