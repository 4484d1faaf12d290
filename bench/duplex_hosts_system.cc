// The duplex side of `bench failover --hosts 2`: a kv pair on a lab of two hosts (an agent on
// each, the coordinator at 127.0.0.1 outside both), driven by the recording workload the chaos
// harness uses; faults through the lab (chaos/lab/lab.h).
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "bench/hosts_system.h"
#include "chaos/lab/lab.h"
#include "chaos/workload.h"
#include "common/clock.h"
#include "common/subprocess.h"
#include "upgrade_coordinator/admin_client.h"

namespace duplex::bench {
namespace {

namespace fs = std::filesystem;

constexpr int kReadyTimeoutMs = 60000;     // the pair back: active, standby in sync
constexpr int kFirstAckTimeoutMs = 10000;  // fault -> first acknowledged write on the other
constexpr int kPollMs = 1;

class DuplexHostsSystem final : public HostsSystem {
 public:
  explicit DuplexHostsSystem(LabOptions options) : options_(std::move(options)) {}
  ~DuplexHostsSystem() override { Stop(); }

  std::string Name() const override { return "duplex"; }
  std::string Describe() const override {
    return "kv 1.0.0 pair in sync mode on a lab of two hosts (a on h1 " + LabAddress(options_, 0) +
           ", b on h2 " + LabAddress(options_, 1) +
           ", an agent on each), the coordinator at 127.0.0.1 outside both; default timing "
           "(heartbeat 20 ms, lease 200 ms, failure_timeout 200 ms, agent heartbeat 100 ms)";
  }

  StatusOr<FailoverTrial> Failover(HostFault fault) override;

  void Stop() override {
    if (!lab_) return;
    (void)lab_->Down();
    lab_.reset();
  }

 private:
  StatusOr<lab::Lab*> Lab();
  ClusterConfig MakeConfig();

  LabOptions options_;
  PortSource ports_{options_.first_port};
  std::optional<lab::Lab> lab_;
  ClusterConfig config_;  // the lab's
  std::string duplex_binary_;
  int trials_ = 0;
};

ClusterConfig DuplexHostsSystem::MakeConfig() {
  ClusterConfig c;
  c.name = "bench-hosts";
  c.data_dir = options_.scratch + "/data";
  c.host = "127.0.0.1";  // the coordinator, on neither host
  c.admin_port = ports_.Next();
  c.control_port = ports_.Next();
  c.hosts_named = true;
  c.processor.binary = (fs::path(options_.build_dir) / "examples/kv/kv-1.0.0").string();
  c.processor.version = "1.0.0";
  const char* const names[] = {"a", "b"};
  for (int i = 0; i < 2; ++i) {
    const std::string host = "h" + std::to_string(i + 1);
    c.hosts.push_back(HostConfig{host, LabAddress(options_, i), ""});
    ReplicaConfig r;
    r.name = names[i];
    r.host_name = host;
    r.host = LabAddress(options_, i);
    r.port = ports_.Next();
    r.client_port = ports_.Next();
    r.http_port = ports_.Next();
    c.replicas.push_back(r);
  }
  c.restart.restarts_max = 1000;  // the trials kill the active again and again
  c.log_level = "warn";
  return c;
}

StatusOr<lab::Lab*> DuplexHostsSystem::Lab() {
  if (lab_) return &*lab_;
  DUPLEX_RETURN_IF_ERROR(PrepareLabScratch(&options_));
  duplex_binary_ = options_.build_dir + "/duplex";
  const std::string dir = options_.scratch + "/lab";
  lab::LabUpOptions up{2, dir};
  up.curve = options_.curve;
  StatusOr<lab::LabPlan> plan = lab::PlanLab(MakeConfig(), up);
  if (!plan.ok()) return plan.status();
  StatusOr<lab::Lab> started = lab::Lab::Start(*plan, duplex_binary_);
  if (!started.ok()) return started.status();
  lab_.emplace(std::move(*started));
  StatusOr<ClusterConfig> config = lab_->Config();  // as written: with the keys the lab made
  if (!config.ok()) return config.status();
  config_ = *config;
  StatusOr<nlohmann::json> ready = WaitFor(config_, kReadyTimeoutMs, PairReady);
  if (!ready.ok()) return ready.status();
  return &*lab_;
}

StatusOr<FailoverTrial> DuplexHostsSystem::Failover(HostFault fault) {
  StatusOr<lab::Lab*> started = Lab();
  if (!started.ok()) return started.status();
  lab::Lab& lab = **started;
  StatusOr<nlohmann::json> ready = WaitFor(config_, kReadyTimeoutMs, PairReady);
  if (!ready.ok()) return ready.status();
  const std::string active = ready->value("active", "");
  int index = -1;
  pid_t pid = 0;
  for (int i = 0; i < 2; ++i) {
    if (config_.replicas[i].name == active) index = i;
  }
  if (index < 0) return Internal("the coordinator names an unknown active '" + active + "'");
  const std::string host = config_.replicas[index].host_name;
  for (const auto& r : (*ready)["replicas"]) {
    if (r.value("name", "") == active) pid = static_cast<pid_t>(r.value("pid", 0));
  }
  // The pid the agent reported must be the host's: a stale report would kill another process.
  if (fault == HostFault::kProcessCrash &&
      (pid <= 0 || lab::HostProcesses(lab.state().lab_id).HostOf(pid) != host)) {
    return Unavailable("no process of " + host + " for the active " + active + " (pid " +
                       std::to_string(pid) + ")");
  }
  WorkloadOptions w;
  w.endpoints = ReplicaEndpoints(config_);
  w.clients = 3;
  w.attempt_timeout_ms = 50;
  w.key_prefix = "h" + std::to_string(++trials_) + "-";
  w.incr = false;  // unique keys, as on the peer
  Workload writers(w);
  writers.Start();
  if (Status warm = writers.WaitAcked(200, 10000); !warm.ok()) {
    writers.Stop();
    return warm;
  }
  const int64_t t0 = NowUs();
  StatusOr<int> hit = fault == HostFault::kHostCrash    ? lab.Crash(host)
                      : fault == HostFault::kHostFreeze ? lab.Freeze(host)
                      : ::kill(pid, SIGKILL) == 0       ? StatusOr<int>(1)
                                                        : IOError("kill " + std::to_string(pid));
  FailoverTrial trial;
  int64_t first = -1;
  for (int64_t deadline = t0 + kFirstAckTimeoutMs * 1000;
       hit.ok() && first < 0 && NowUs() < deadline;) {
    SleepMs(kPollMs);
    first = writers.FirstAckAfter(t0, index);
  }
  if (first > 0) trial.first_ack_ms = (first - t0) / 1000.0;
  Status back = Status::Ok();
  if (fault == HostFault::kHostCrash) {
    // Our child, the host's agent, is reaped before the host boots again.
    for (const lab::LabProcessRecord& p : lab.state().processes) {
      if (p.host == host) (void)WaitExited(p.pid, 1000);
    }
    back = lab.StartHost(host, duplex_binary_).status();
  } else if (fault == HostFault::kHostFreeze) {
    back = lab.Thaw(host).status();
  }
  (void)writers.WaitAcked(writers.acked() + 50, 10000);
  writers.Stop();
  if (!hit.ok()) return hit.status();
  trial.lost = writers.Check().lost;
  std::ifstream events(config_.data_dir + "/events.jsonl");
  const CoordinatorTimes times = CoordinatorTimesAfter(events, t0, active);
  if (times.down_us >= 0) trial.down_ms = (times.down_us - t0) / 1000.0;
  if (times.promoted_us >= 0) trial.promoted_ms = (times.promoted_us - t0) / 1000.0;
  DUPLEX_RETURN_IF_ERROR(back);
  StatusOr<nlohmann::json> again = WaitFor(config_, kReadyTimeoutMs, PairReady);
  if (!again.ok()) return again.status();
  return trial;
}

}  // namespace

std::unique_ptr<HostsSystem> MakeDuplexHostsSystem(const LabOptions& options) {
  return std::make_unique<DuplexHostsSystem>(options);
}

}  // namespace duplex::bench
