#include "chaos/scenario_runner.h"

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "chaos/checker.h"
#include "chaos/cluster_fixture.h"
#include "chaos/corrupt_at_rest.h"
#include "chaos/fault_proxy.h"
#include "chaos/history_judgement.h"
#include "chaos/hooks/fault_fs.h"
#include "chaos/report.h"
#include "chaos/upgrade_run.h"
#include "chaos/workload.h"
#include "common/assert.h"
#include "common/clock.h"
#include "common/files.h"
#include "common/net.h"
#include "upgrade_coordinator/admin_client.h"
#include "upgrade_coordinator/event_log.h"

namespace duplex {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int kTickMs = 5;
constexpr int kTornWaitMs = 30000;        // a torn kill waits this long for its write
constexpr int kCorruptionFoundMs = 5000;  // corrupt-at-rest: the replica must say so by then
constexpr uint64_t kAckedBeforeUpgrade = 100;
// expect_gap: the fault's window runs on this long after it healed (an agent started again
// reconnects, adopts, reports), and the steady state is measured from this long after start.
constexpr int64_t kGapSettleMs = 1000;
constexpr int64_t kSteadyFromMs = 500;
// A gap within twice the steady one, or within it plus this, is scheduling noise on a loaded
// machine (2 shared cores: 50-90 ms stalls seen with no fault at all); a failover costs at
// least a lease (200 ms) on top, so it still shows.
constexpr double kGapNoiseMs = 100;
// The linearizability check's bound per run: a history not decided by then fails the run
// ("unknown" is no pass). A run's few thousand operations on three hot keys take well under
// a second.
constexpr int64_t kLinearizableTimeLimitMs = 10000;
// Async runs bound the standby's lag this tightly (replication.max_lag_ops; the default is
// 10,000), so that a partition of a few hundred ms reaches the bound and the loss accounting
// checks the bound itself, not only a count far below it.
constexpr uint64_t kAsyncLagOpsMax = 100;

void Sleep(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// One fault of the scenario, as it unfolds.
struct Armed {
  FaultSpec spec;
  int64_t fire_at_ms = -1;  // resolved for after/random triggers
  bool fired = false, healed = false;
  int64_t start_ms = 0, end_ms = 0;
  std::string resolved;     // the process, link or host it hit
  std::string replica;      // a host fault: the replica on the host hit ("" = none)
  bool hit_active = false;  // a host fault: that replica was the active when it fired
  std::string note;
  std::string leader_host;  // a coordinator or etcd fault: the acting coordinator's host then
  std::function<void()> heal;
  std::function<bool()> over;  // if set, heal as soon as it holds (else at the duration)
};

// Sets DUPLEX_MUTANTS for the processes this run starts (they inherit it) and clears it.
class MutantEnv {
 public:
  explicit MutantEnv(const std::vector<std::string>& mutants) {
    std::string list;
    for (const auto& m : mutants) list += (list.empty() ? "" : ",") + m;
    if (!list.empty()) ::setenv("DUPLEX_MUTANTS", list.c_str(), 1);
  }
  ~MutantEnv() { ::unsetenv("DUPLEX_MUTANTS"); }
};

class Run {
 public:
  Run(const Scenario& s, const RunOptions& o) : s_(s), o_(o), rng_(o.seed) {}
  ~Run() { HealAll(); }

  StatusOr<json> Go() {
    DUPLEX_RETURN_IF_ERROR(StartCluster());
    WorkloadOptions w;
    w.endpoints = cluster_->Endpoints();
    w.clients = s_.clients;
    w.readers = s_.readers;
    w.pin_readers = PinnedIndex();
    w.incr = s_.incr;
    w.attempt_timeout_ms = 100;
    w.deadline_ms = static_cast<int>(s_.deadline_ms);
    w.seed = o_.seed;
    workload_ = std::make_unique<Workload>(w);
    t0_us_ = NowUs();
    workload_->Start();
    ArmTriggers();
    Say("running: " + std::to_string(s_.faults.size()) + " fault(s), " +
        (s_.package.empty() ? "no upgrade" : "upgrade to " + s_.package));
    std::thread upgrade;
    if (!s_.package.empty()) {
      (void)workload_->WaitAcked(kAckedBeforeUpgrade, 10000);
      upgrade = std::thread([this] { RunCampaign(); });
    }
    Drive();
    if (upgrade.joinable()) upgrade.join();
    HealAll();
    return Judge();
  }

 private:
  void Say(const std::string& line) {
    if (o_.log) o_.log(line);
  }
  int64_t ElapsedMs() const { return (NowUs() - t0_us_) / 1000; }

  Status StartCluster() {
    MutantEnv mutants(s_.mutants);
    FixtureOptions fo;
    fo.build_dir = o_.build_dir;
    fo.dir = o_.scratch;
    fo.log_level = "info";
    fo.mode = s_.mode == "async" ? ReplicationMode::kAsync : ReplicationMode::kSync;
    fo.hosts = s_.hosts;
    fo.etcd = s_.etcd;
    fo.lab_first_host = o_.lab_first_host;
    fo.port_first = o_.port_first;
    fo.port_last = o_.port_last;
    Status proxies = Status::Ok();
    fo.configure = [&](ClusterConfig* c) {
      if (s_.mode == "async") c->replication.lag_ops_max = kAsyncLagOpsMax;
      for (size_t i = 0; i < c->replicas.size(); ++i) {
        ReplicaConfig& r = c->replicas[i];
        r.fault_file = fs::absolute(fs::path(o_.scratch) / (r.name + ".faults")).string();
        // A lab's hosts talk directly: a proxy on 127.0.0.1 would hide which host sends.
        if (s_.hosts > 0) continue;
        // Not port 0: the kernel could hand a proxy a port picked for a replica that has
        // not bound it yet (CI, 2026-12-03: "replicas[1].port: 45647 is already used by
        // replicas[0].peer_port"). PickFreePort never gives a port twice.
        auto peer = chaos::FaultProxy::Start({PickFreePort(), r.port, o_.seed * 31 + i});
        auto control =
            chaos::FaultProxy::Start({PickFreePort(), c->control_port, o_.seed * 37 + i});
        if (!peer.ok() || !control.ok()) {
          proxies = !peer.ok() ? peer.status() : control.status();
          return;
        }
        r.peer_port = (*peer)->port();
        r.coordinator_port = (*control)->port();
        peer_[r.name] = std::move(peer).value();
        control_[r.name] = std::move(control).value();
      }
    };
    auto cluster = ClusterFixture::Start(fo);
    DUPLEX_RETURN_IF_ERROR(proxies);
    if (!cluster.ok()) return cluster.status();
    cluster_ = std::move(cluster).value();
    return Status::Ok();
  }

  void ArmTriggers() {
    for (const auto& f : s_.faults) {
      Armed a;
      a.spec = f;
      if (f.at.after_ms) a.fire_at_ms = *f.at.after_ms;
      if (f.at.random_ms) {
        std::uniform_int_distribution<int64_t> d(f.at.random_ms->first, f.at.random_ms->second);
        a.fire_at_ms = d(rng_);
      }
      armed_.push_back(std::move(a));
    }
  }

  void RunCampaign() {
    UpgradeRunOptions ro;
    ro.package_dir = fs::absolute(fs::path(o_.build_dir) / "packages" / s_.package).string();
    ro.soak_ms = s_.soak_ms;
    ro.timeout_ms = static_cast<int>(s_.run_ms);
    auto run = RunUpgrade(*cluster_, *workload_, ro);
    std::lock_guard lock(mu_);
    if (run.ok()) {
      campaign_ = *run;
    } else {
      campaign_.outcome = "could not run: " + run.status().message();
    }
    campaign_done_ = true;
  }

  bool CampaignDone() {
    std::lock_guard lock(mu_);
    return campaign_done_;
  }

  // The steps the campaign has entered so far, polled for step triggers. A step can begin
  // and end between two polls (a few ms): it still counts as entered, and its fault fires
  // at once, a little late rather than never.
  std::set<std::string> StepsEntered() {
    std::set<std::string> out;
    auto view = GetJson(cluster_->AdminConfig(), "/upgrade", 500);
    if (!view.ok() || !(*view)["campaign"].is_object()) return out;
    for (const auto& s : (*view)["campaign"]["steps"]) out.insert(s.value("step", ""));
    return out;
  }

  // Fires faults as their triggers come, heals them after their duration; returns when
  // the run is over: the campaign ended (or the workload time passed) and no fault is
  // pending or active.
  void Drive() {
    const int64_t cap_ms = s_.run_ms + (s_.package.empty() ? 0 : 30000);
    std::set<std::string> entered;
    for (;;) {
      int64_t now = ElapsedMs();
      bool wants_step = std::any_of(armed_.begin(), armed_.end(), [](const Armed& a) {
        return !a.fired && !a.spec.at.step.empty();
      });
      if (wants_step) entered = StepsEntered();
      for (auto& a : armed_) {
        if (!a.fired) {
          const Trigger& t = a.spec.at;
          bool due = (a.fire_at_ms >= 0 && now >= a.fire_at_ms) ||
                     (!t.step.empty() && entered.count(t.step) > 0) ||
                     (t.acked && workload_->acked() >= *t.acked);
          if (due) Fire(a);
        }
        if (a.fired && !a.healed &&
            (ElapsedMs() >= a.start_ms + a.spec.duration_ms || (a.over && a.over()))) {
          Heal(a);
        }
      }
      bool done = s_.package.empty() ? now >= s_.run_ms : CampaignDone();
      // Faults whose trigger never came (a step the campaign skipped) do not hold the run.
      if (done && !std::any_of(armed_.begin(), armed_.end(),
                               [](const Armed& a) { return a.fired && !a.healed; })) {
        break;
      }
      if (now >= cap_ms) break;
      Sleep(kTickMs);
    }
  }

  std::string Resolve(const std::string& target) {
    if (target == "active-host" || target == "standby-host") {
      return cluster_->HostOfReplica(Resolve(target == "active-host" ? "active" : "standby"));
    }
    if (target != "active" && target != "standby") return target;
    auto active = cluster_->ActiveName();
    std::string a = active.ok() ? *active : cluster_->config().replicas[0].name;
    if (target == "active") return a;
    return a == cluster_->config().replicas[0].name ? cluster_->config().replicas[1].name
                                                    : cluster_->config().replicas[0].name;
  }

  // The index in the endpoints of the replica the readers are bound to (-1: none).
  int PinnedIndex() {
    if (s_.pin_readers.empty()) return -1;
    const std::string name = Resolve(s_.pin_readers);
    const auto& replicas = cluster_->config().replicas;
    for (size_t i = 0; i < replicas.size(); ++i) {
      if (replicas[i].name == name) return static_cast<int>(i);
    }
    return -1;
  }

  std::string FaultFile(const std::string& replica) {
    if (replica == "coordinator") return cluster_->CoordinatorFaultFile();
    for (const auto& r : cluster_->config().replicas) {
      if (r.name == replica) return r.fault_file;
    }
    return "";
  }

  static void WriteFaults(const std::string& path, const FaultSettings& settings) {
    (void)WriteFileAtomically(path, FormatFaultSettings(settings));  // never read half-written
  }

  static std::string Note(const StatusOr<int>& n, const std::string& what) {
    return n.ok() ? std::to_string(*n) + " process(es) " + what : n.status().message();
  }

  // A host fault; its heal (and how long it lasts) set in `a`.
  void FireHostFault(Armed& a) {
    const FaultSpec& f = a.spec;
    const std::string host = a.resolved;
    for (const auto& r : cluster_->config().replicas) {
      if (r.host_name == host) a.replica = r.name;
    }
    a.hit_active = !a.replica.empty() && a.replica == Resolve("active");
    const bool whole_host = f.kind == FaultKind::kHostCrash || f.kind == FaultKind::kHostFreeze ||
                            f.kind == FaultKind::kHostIsolate;
    if (cluster_->etcd() && whole_host) {
      // The host's coordinator goes with it: its failover is measured when it was acting.
      if (StatusOr<std::string> leader = cluster_->LeaderHost(); leader.ok() && *leader == host) {
        a.leader_host = host;
      }
    }
    auto boot = [this, host] {
      Status booted = cluster_->BootHost(host);
      if (!booted.ok()) Say("  boot " + host + ": " + booted.message());
    };
    switch (f.kind) {
      case FaultKind::kHostCrash:
        Stopped(host);
        a.note = Note(cluster_->CrashHost(host), "killed");
        a.spec.duration_ms = f.down_ms;
        a.heal = boot;
        break;
      case FaultKind::kHostFreeze:
        a.note = Note(cluster_->FreezeHost(host), "stopped");
        a.heal = [this, host] { (void)cluster_->ThawHost(host); };
        break;
      case FaultKind::kHostIsolate: {
        Status isolated = cluster_->IsolateHost(host, f.direction);
        a.note = isolated.ok() ? "direction " + f.direction : isolated.message();
        a.heal = [this] {
          Status healed = cluster_->HealHosts();
          if (!healed.ok()) Say("  heal: " + healed.message());
        };
        break;
      }
      case FaultKind::kAgentKill:
      case FaultKind::kAgentRestart: {
        auto pid = cluster_->KillAgent(host);
        a.note = pid.ok() ? "agent pid " + std::to_string(*pid) : pid.status().message();
        a.replica.clear();  // the replicas keep running: no service was hit
        a.hit_active = false;
        if (f.kind == FaultKind::kAgentRestart) {
          boot();
        } else if (f.down_ms > 0) {
          a.spec.duration_ms = f.down_ms;
          a.heal = boot;
        } else {
          a.note += "; not started again";
        }
        break;
      }
      default:
        DUPLEX_ASSERT(false, "a host fault", static_cast<int>(f.kind));
    }
  }

  // A coordinator killed by the run: its log ends without saying it stopped acting.
  void Stopped(const std::string& host) {
    std::lock_guard lock(mu_);
    stopped_us_[host].push_back(NowUs());
  }

  // The etcd members a fault strikes: its target's host, or (quorum loss) the two hosts the
  // acting coordinator is not on.
  std::vector<std::string> MemberHosts(const FaultSpec& f, const std::string& leader) {
    std::vector<std::string> hosts;
    for (const std::string& h : cluster_->CoordinatorHosts()) {
      const bool other = h != leader;
      if (f.kind == FaultKind::kEtcdQuorumLoss ? other && hosts.size() < 2
          : f.target == "leader-host"          ? !other
          : f.target == "follower-host"        ? other && hosts.empty()
                                               : h == f.target) {
        hosts.push_back(h);
      }
    }
    return hosts;
  }

  // A coordinator or etcd fault; what it struck (the acting coordinator is found now) and its
  // heal set in `a`.
  void FireCoordinatorFault(Armed& a) {
    const FaultSpec& f = a.spec;
    StatusOr<std::string> found = cluster_->LeaderHost();
    const std::string leader = found.ok() ? *found : "";
    a.leader_host = leader;
    if (f.kind == FaultKind::kEtcdMemberKill || f.kind == FaultKind::kEtcdQuorumLoss) {
      const std::vector<std::string> hosts = MemberHosts(f, leader);
      a.resolved = "etcd on";
      for (const std::string& h : hosts) {
        auto pid = cluster_->KillEtcdMember(h);
        a.resolved += " " + h;
        a.note += (a.note.empty() ? "" : "; ") + h + ": " +
                  (pid.ok() ? "pid " + std::to_string(*pid) : pid.status().message());
      }
      a.heal = [this, hosts] {
        for (const std::string& h : hosts) {
          Status started = cluster_->StartEtcdMember(h);
          if (!started.ok()) Say("  start etcd on " + h + ": " + started.message());
        }
      };
      return;
    }
    if (!found.ok()) {
      a.resolved = "the acting coordinator";
      a.note = "none found: " + found.status().message();
      return;
    }
    a.resolved = "coordinator on " + leader;
    if (f.kind == FaultKind::kLeaderKill) {
      Stopped(leader);
      auto pid = cluster_->SignalCoordinator(leader, SIGKILL);
      a.note = pid.ok() ? "pid " + std::to_string(*pid) : pid.status().message();
      if (f.duration_ms == 0) a.note += "; not started again";
      a.heal = [this, leader] {
        Status started = cluster_->StartCoordinator(leader);
        if (!started.ok()) Say("  start coordinator on " + leader + ": " + started.message());
      };
    } else if (f.kind == FaultKind::kLeaderFreeze) {
      auto pid = cluster_->SignalCoordinator(leader, SIGSTOP);
      a.note = pid.ok() ? "pid " + std::to_string(*pid) : pid.status().message();
      a.heal = [this, leader] { (void)cluster_->SignalCoordinator(leader, SIGCONT); };
    } else {
      Status isolated = cluster_->IsolateCoordinator(leader, f.from);
      a.note = isolated.ok() ? "from " + f.from : isolated.message();
      a.heal = [this] {
        Status healed = cluster_->HealHosts();
        if (!healed.ok()) Say("  heal: " + healed.message());
      };
    }
  }

  void Fire(Armed& a) {
    const FaultSpec& f = a.spec;
    a.fired = true;
    a.start_ms = ElapsedMs();
    a.resolved = Resolve(f.target);
    a.heal = [] {};
    switch (f.kind) {
      case FaultKind::kHostCrash:
      case FaultKind::kHostFreeze:
      case FaultKind::kHostIsolate:
      case FaultKind::kAgentKill:
      case FaultKind::kAgentRestart:
        FireHostFault(a);
        break;
      case FaultKind::kLeaderKill:
      case FaultKind::kLeaderFreeze:
      case FaultKind::kLeaderIsolate:
      case FaultKind::kEtcdMemberKill:
      case FaultKind::kEtcdQuorumLoss:
        FireCoordinatorFault(a);
        break;
      case FaultKind::kCorruptAtRest:
        FireCorruptAtRest(a);
        break;
      case FaultKind::kKill:
        if (a.resolved == "coordinator" && !f.torn.empty()) {
          Status armed = cluster_->ArmCoordinatorCrash(f.torn, f.nth);
          a.note = armed.ok() ? "torn: exits after durable write " + std::to_string(f.nth) +
                                    " of kind " + f.torn
                              : armed.message();
          a.spec.duration_ms = kTornWaitMs;
          a.over = [this] { return cluster_->CoordinatorExited(); };
          a.heal = [this] {
            if (cluster_->CoordinatorExited()) {
              (void)cluster_->RestartCoordinator();
              return;
            }
            cluster_->DisarmCoordinatorCrash();
            Say("  torn kill: no such write within " + std::to_string(kTornWaitMs) +
                " ms; disarmed, the coordinator runs on");
          };
        } else if (a.resolved == "coordinator") {
          cluster_->KillCoordinator();
          if (f.down_ms > 0) {
            a.spec.duration_ms = f.down_ms;
            a.heal = [this] { (void)cluster_->RestartCoordinator(); };
          } else {
            (void)cluster_->RestartCoordinator();
          }
        } else if (a.resolved == "both") {
          KillBothReplicas(a);
        } else {
          auto pid = cluster_->SignalReplica(a.resolved, SIGKILL);
          a.note = pid.ok() ? "pid " + std::to_string(*pid) : pid.status().message();
        }
        break;
      case FaultKind::kPause: {
        pid_t pid = 0;
        if (a.resolved == "coordinator") {
          pid = cluster_->coordinator_pid();
          ::kill(pid, SIGSTOP);
        } else {
          auto p = cluster_->SignalReplica(a.resolved, SIGSTOP);
          pid = p.ok() ? *p : 0;
        }
        a.note = "pid " + std::to_string(pid);
        a.heal = [pid] {
          if (pid > 0) ::kill(pid, SIGCONT);
        };
        break;
      }
      case FaultKind::kPowerLoss: {
        // Hold unsynced writes in memory for a moment of load, then cut the power.
        std::vector<std::string> names;
        if (a.resolved == "both") {
          for (const auto& r : cluster_->config().replicas) names.push_back(r.name);
        } else {
          names.push_back(a.resolved);
        }
        FaultSettings hold;
        hold.power_loss = true;
        for (const auto& n : names) WriteFaults(FaultFile(n), hold);
        Sleep(200);
        std::vector<pid_t> pids;
        for (const auto& n : names) {
          auto pid = cluster_->PidOf(n);
          if (pid.ok() && *pid > 0) pids.push_back(*pid);
        }
        for (pid_t pid : pids) ::kill(pid, SIGKILL);  // together, as one power cut
        for (const auto& n : names) {
          std::error_code ec;
          fs::remove(FaultFile(n), ec);
        }
        a.note = std::to_string(pids.size()) + " process(es) cut";
        break;
      }
      case FaultKind::kDisk: {
        FaultSettings bad = DiskFaultSettings(f);
        if (f.slow_sync_ms > 0)
          a.note = "every fsync " + std::to_string(f.slow_sync_ms) + " ms late";
        std::string file = FaultFile(a.resolved);
        WriteFaults(file, bad);
        a.heal = [file] {
          std::error_code ec;
          fs::remove(file, ec);
        };
        break;
      }
      case FaultKind::kClockJump: {
        // The replica's wall clock (what its processor reads) is off until healed; leases
        // and timeouts run on the monotonic clock and must not notice.
        FaultSettings skewed;
        skewed.clock_offset_ms = f.back ? -f.offset_ms : f.offset_ms;
        std::string file = FaultFile(a.resolved);
        WriteFaults(file, skewed);
        a.note =
            "wall clock " + std::string(f.back ? "-" : "+") + std::to_string(f.offset_ms) + " ms";
        a.heal = [file] {
          std::error_code ec;
          fs::remove(file, ec);
        };
        break;
      }
      case FaultKind::kPartition:
      case FaultKind::kLinkFaults: {
        std::vector<chaos::FaultProxy*> proxies = ProxiesOf(a);
        chaos::LinkFaults lf;
        lf.blackhole = f.kind == FaultKind::kPartition && !f.sever;
        lf.drop = f.drop;
        lf.duplicate = f.duplicate;
        lf.reorder = f.reorder;
        lf.corrupt = f.corrupt;
        lf.delay_ms = f.delay_ms;
        lf.jitter_ms = f.jitter_ms;
        chaos::Direction d = f.direction == "to-target"     ? chaos::Direction::kToTarget
                             : f.direction == "from-target" ? chaos::Direction::kFromTarget
                                                            : chaos::Direction::kBoth;
        for (chaos::FaultProxy* proxy : proxies) {
          if (f.kind == FaultKind::kPartition && f.sever) {
            proxy->Sever(true);
          } else {
            proxy->Set(d, lf);
          }
        }
        a.heal = [proxies] {
          for (chaos::FaultProxy* proxy : proxies) proxy->Heal();
        };
        break;
      }
    }
    if (f.duration_ms == 0 && !(f.kind == FaultKind::kKill && f.down_ms > 0)) {
      a.healed = true;
      a.end_ms = a.start_ms;
    }
    Say("  +" + std::to_string(a.start_ms) + " ms  fault " + KindName(f.kind) + " " + a.resolved +
        " (" + f.at.Describe() + ")" + (a.note.empty() ? "" : ": " + a.note));
  }

  // corrupt-at-rest: SIGKILL of the replica while its agent is held (it would start it again
  // within its backoff), bits flipped in its files once the process is gone, the agent let
  // go. The fault lasts until the replica has found the corruption (its quarantine says
  // why), at most kCorruptionFoundMs: the invariants judge what it then served.
  void FireCorruptAtRest(Armed& a) {
    const FaultSpec& f = a.spec;
    std::string dir;
    for (const auto& r : cluster_->config().replicas) {
      if (r.name == a.resolved) dir = ReplicaDataDir(cluster_->config(), r);
    }
    auto pid = cluster_->PidOf(a.resolved);
    const pid_t agent = cluster_->agent_pid();
    if (dir.empty() || !pid.ok() || *pid <= 0 || agent <= 0) {
      a.note = "not running: nothing corrupted";
      return;
    }
    ::kill(agent, SIGSTOP);
    ::kill(*pid, SIGKILL);
    if (!ProcessGone(*pid, 2000)) {
      a.note = "pid " + std::to_string(*pid) + " still running after 2000 ms: nothing corrupted";
    } else {
      auto flipped = CorruptStoreFiles(dir, f.files, f.flips, o_.seed * 41 + armed_.size());
      a.note = flipped.ok() ? "pid " + std::to_string(*pid) + " killed; " + *flipped
                            : flipped.status().message();
    }
    ::kill(agent, SIGCONT);
    a.spec.duration_ms = kCorruptionFoundMs;
    a.over = [dir] { return CorruptionFound(dir); };
    a.heal = [this, dir, name = a.resolved] {
      Say(CorruptionFound(dir) ? "  " + name + " found its store corrupt at rest and resyncs"
                               : "  " + name + " did not report its store corrupt within " +
                                     std::to_string(kCorruptionFoundMs) + " ms");
    };
  }

  // Whether the process has exited: gone, or a zombie its (held) parent has not reaped.
  static bool ProcessGone(pid_t pid, int timeout_ms) {
    const int64_t deadline = NowUs() + int64_t{timeout_ms} * 1000;
    for (;;) {
      std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
      std::string line;
      if (!std::getline(stat, line)) return true;
      const size_t paren = line.rfind(')');
      if (paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z') {
        return true;
      }
      if (NowUs() >= deadline) return false;
      Sleep(kTickMs);
    }
  }

  // What a disk fault writes to the replica's control file: an error, or a slow fsync.
  static FaultSettings DiskFaultSettings(const FaultSpec& f) {
    FaultSettings bad;
    if (f.slow_sync_ms > 0) {
      bad.sync_delay_ms = f.slow_sync_ms;
      return bad;
    }
    bad.write_error = f.error == "nospace" ? FaultSettings::WriteError::kNoSpace
                                           : FaultSettings::WriteError::kIoError;
    bad.sync_only = f.sync_only;
    return bad;
  }

  // The fault proxies a link fault strikes. The replicas' link and the control link each have
  // a proxy per replica, in front of the listening side: the active's peer proxy carries the
  // standby's connection to it (to-target: standby -> active), a replica's control proxy its
  // connection to the coordinator (to-target: replica -> coordinator).
  std::vector<chaos::FaultProxy*> ProxiesOf(Armed& a) {
    const std::string& target = a.spec.target;
    std::vector<chaos::FaultProxy*> proxies;
    if (target == "replicas" || target == "isolate-active") {
      for (auto& [name, proxy] : peer_) proxies.push_back(proxy.get());
    }
    if (target == "control") {
      for (auto& [name, proxy] : control_) proxies.push_back(proxy.get());
    }
    if (target == "isolate-active" || target == "control-active") {
      a.resolved =
          (target == "control-active" ? "control of active " : "active ") + Resolve("active");
      proxies.push_back(control_.at(Resolve("active")).get());
    }
    return proxies;
  }

  // Both replicas SIGKILLed at one instant (their pids found first, then two kill(2) calls
  // back to back): the arbiter must not promote the one whose exit it has not taken in yet.
  void KillBothReplicas(Armed& a) {
    std::vector<pid_t> pids;
    for (const auto& r : cluster_->config().replicas) {
      auto pid = cluster_->PidOf(r.name);
      if (pid.ok() && *pid > 0) pids.push_back(*pid);
    }
    for (pid_t pid : pids) ::kill(pid, SIGKILL);
    a.note = std::to_string(pids.size()) + " replica process(es) killed at once";
  }

  void Heal(Armed& a) {
    if (a.healed) return;
    if (a.heal) a.heal();
    a.healed = true;
    a.end_ms = ElapsedMs();
    Say("  +" + std::to_string(a.end_ms) + " ms  healed " + KindName(a.spec.kind) + " " +
        a.resolved);
  }

  void HealAll() {
    for (auto& a : armed_) {
      if (a.fired) Heal(a);
    }
  }

  static std::string KindName(FaultKind k) { return FaultKindName(k); }

  // --- the verdict ----------------------------------------------------------------------

  static json Verdict(Invariant invariant, std::vector<std::string> details, uint64_t count = 0) {
    count = std::max<uint64_t>(count, details.size());
    return {{"name", InvariantName(invariant)},
            {"ok", count == 0},
            {"violations", count},
            {"details", details}};
  }

  // The campaign's states must follow the machine's edges.
  static std::vector<std::string> CheckCampaign(const std::vector<json>& events,
                                                const std::string& expect,
                                                const std::string& outcome) {
    std::vector<std::string> out;
    std::optional<CampaignState> state;
    for (const auto& e : events) {
      if (e.value("kind", "") != "campaign") continue;
      std::string name = e.value("state", "");
      std::optional<CampaignState> next = FromName<CampaignState>(name);
      if (!next) {
        out.push_back("unknown campaign state \"" + name + "\"");
        continue;
      }
      if (state && !StateMayFollow(*state, *next)) {
        out.push_back("illegal campaign transition " + Name(*state) + " -> " + Name(*next));
      }
      state = next;
    }
    const std::string& got = outcome;
    if (expect == "either" ? (got != "completed" && got != "rolled_back") : got != expect) {
      out.push_back("campaign " + (outcome.empty() ? "did not run" : outcome) + ", expected " +
                    expect);
    }
    return out;
  }

  // Whether the links were sealed: CURVE in the config, and the connections the fault proxies
  // carried (each one through a proxy whose greeting named CURVE counts in curve_connections).
  json CurveFacts() const {
    uint64_t proxied = 0, curve = 0, plain = 0;
    for (const auto* proxies : {&peer_, &control_}) {
      for (const auto& [name, proxy] : *proxies) {
        const chaos::ProxyCounters c = proxy->counters();
        proxied += c.connections;
        curve += c.curve_connections;
        plain += c.plain_connections;
      }
    }
    return {{"on", cluster_->config().security.curve()},
            {"proxied_connections", proxied},
            {"curve_connections", curve},
            {"plain_connections", plain}};
  }

  json Judge() {
    // After the faults: writes go on being acknowledged; then, writes stopped, the pair must
    // be ready (standby in sync at the active's seq) and converge within the bound. Waiting
    // for an equal seq while clients still write only measures luck.
    int64_t healed_us = NowUs();
    const int64_t drive_end_ms = ElapsedMs();
    Status serving =
        workload_->WaitAcked(workload_->acked() + 50, static_cast<int>(s_.converge_ms));
    workload_->Stop();
    Status ready = cluster_->WaitReady(static_cast<int>(s_.converge_ms));
    Status converged = cluster_->WaitConverged(static_cast<int>(s_.converge_ms));
    double convergence_ms = (NowUs() - healed_us) / 1000.0;
    // One read of each key's final value, shared by the history check and the loss accounting.
    const ReadValue read = workload_->FinalReader();
    CheckResult data = workload_->Check(read);
    Status events = Status::Ok();
    const std::vector<CoordinatorLog> logs = CoordinatorLogs(&events);
    // Several coordinators: what the acting ones logged (a follower's view decides nothing).
    const std::vector<json> ev = cluster_->etcd()
                                     ? ActingEvents(logs)
                                     : (logs.empty() ? std::vector<json>{} : logs[0].events);

    std::vector<std::string> converge;
    if (!serving.ok()) converge.push_back("writes not acknowledged again: " + serving.message());
    if (!ready.ok()) converge.push_back("no serving pair: " + ready.message());
    if (!converged.ok()) converge.push_back(converged.message());
    std::vector<std::string> campaign;
    std::string outcome = "none";
    if (!s_.package.empty()) {
      std::lock_guard lock(mu_);
      // Scenarios name the ends with an underscore ("rolled_back").
      outcome = !campaign_.end                                 ? campaign_.outcome
                : *campaign_.end == CampaignState::kRolledBack ? "rolled_back"
                                                               : Name(*campaign_.end);
    }
    campaign = CheckCampaign(ev, s_.expect, outcome);
    std::vector<std::string> crashes;
    for (const auto& line : cluster_->LogFindings()) {
      // Injected disk faults make replicas stop on purpose (critical log line, then exit).
      if (line.find("fault injection") == std::string::npos) crashes.push_back(line);
    }
    if (!events.ok()) crashes.push_back(events.message());

    const std::vector<OpRecord> history = workload_->History();
    const lin::CheckResult lin = JudgeLinearizable(history);
    std::optional<AsyncLoss> loss;
    if (s_.mode == "async") {
      std::vector<std::string> names;
      for (const auto& r : cluster_->config().replicas) names.push_back(r.name);
      loss = CheckAsyncLoss(history, read, FailoversOf(ev, names), LagOpsMax(), t0_us_);
    }
    // The workload spells out the first few problems; the totals count them all. In async
    // mode a failover may lose the unreplicated tail: lost writes are judged against what the
    // pair announced instead (chaos/history_judgement.h).
    json invariants = json::array(
        {loss ? Verdict(Invariant::kLostWrites, loss->problems)
              : Verdict(Invariant::kLostWrites, data.Details(Invariant::kLostWrites), data.lost),
         Verdict(Invariant::kPhantomWrites, data.Details(Invariant::kPhantomWrites), data.phantom),
         Verdict(Invariant::kDoubleApplied, data.Details(Invariant::kDoubleApplied),
                 data.double_applied),
         Verdict(Invariant::kOneActivePerEpoch,
                 cluster_->etcd() ? CheckEpochsOfLogs(logs) : CheckEpochs(ev)),
         Verdict(Invariant::kReplicasConverge, converge),
         Verdict(Invariant::kCampaignOutcome, campaign),
         Verdict(Invariant::kFeatureGate, CheckFeatureGate(ev)),
         Verdict(Invariant::kNoCrashReports, crashes),
         Verdict(Invariant::kOneCoordinatorPerTerm, CheckCoordinatorTerms(logs)),
         Verdict(Invariant::kLinearizable, LinearizableViolations(lin, kLinearizableTimeLimitMs))});
    bool pass = true;
    for (const auto& i : invariants) {
      if (s_.expect_violation.empty()) {
        pass = pass && i["ok"].get<bool>();
      } else if (i["name"] == s_.expect_violation) {
        pass = !i["ok"].get<bool>();  // a mutant: the checker must catch it
      }
    }

    json faults = json::array();
    json not_fired = json::array();
    std::vector<double> failovers;
    const double steady_gap_ms = SteadyGapMs(drive_end_ms);
    double fault_gap_ms = 0;  // the longest gap while a fault lasted
    for (const auto& a : armed_) {
      if (!a.fired) {
        // Its step never came (the campaign ended before it): the run tested less.
        not_fired.push_back(KindName(a.spec.kind) + " " + a.spec.target + " (" +
                            a.spec.at.Describe() + ")");
        continue;
      }
      const double gap_ms = FaultGapMs(a);
      fault_gap_ms = std::max(fault_gap_ms, gap_ms);
      faults.push_back({{"kind", KindName(a.spec.kind)},
                        {"target", a.resolved},
                        {"trigger", a.spec.at.Describe()},
                        {"start_ms", a.start_ms},
                        {"end_ms", a.end_ms},
                        {"gap_ms", gap_ms},
                        {"note", a.note}});
      bool hits_service = a.spec.kind == FaultKind::kKill || a.spec.kind == FaultKind::kPause ||
                          a.spec.kind == FaultKind::kPowerLoss || !a.replica.empty();
      const std::string& hit = a.replica.empty() ? a.resolved : a.replica;
      if (hits_service && hit != "coordinator") {
        int64_t at_us = t0_us_ + a.start_ms * 1000;
        int not_by = hit == cluster_->config().replicas[0].name   ? 0
                     : hit == cluster_->config().replicas[1].name ? 1
                                                                  : -1;
        int64_t first = workload_->FirstAckAfter(at_us, not_by);
        if (first > 0) failovers.push_back((first - at_us) / 1000.0);
      }
    }
    if (s_.expect_failover) {
      invariants.push_back(FailoverVerdict());
      pass = pass && invariants.back()["ok"].get<bool>();
    }
    if (!s_.expect_gap.empty()) {
      invariants.push_back(s_.expect_gap_ms > 0 ? GapBoundVerdict(fault_gap_ms, s_.expect_gap_ms)
                                                : GapVerdict(steady_gap_ms, fault_gap_ms));
      pass = pass && invariants.back()["ok"].get<bool>();
    }
    std::string replay = "build/duplex chaos run " + s_.name + " --seed " + std::to_string(o_.seed);
    json run = {{"scenario", s_.name},
                {"description", s_.description},
                {"seed", o_.seed},
                {"replay", replay},
                {"verdict", pass ? "pass" : "fail"},
                {"expected_outcome", s_.expect},
                {"expect_violation", s_.expect_violation},
                {"outcome", outcome},
                {"campaign_reason", CampaignReason()},
                {"duration_ms", ElapsedMs()},
                {"invariants", invariants},
                {"faults", faults},
                {"faults_not_fired", not_fired},
                {"ops", {{"ok", data.ok}, {"fail", data.fail}, {"info", data.info}}},
                {"linearizability", LinearizabilityFacts(lin)},
                {"failover_ms", failovers},
                {"leadership_changes", LeadershipChanges(logs)},
                {"leader_failover_ms", LeaderFailovers(logs)},
                {"gap_ms", {{"steady", steady_gap_ms}, {"faults", fault_gap_ms}}},
                {"convergence_ms", converged.ok() ? convergence_ms : -1},
                {"curve", CurveFacts()},
                {"events", RelativeEvents(ev)},
                {"throughput", Throughput()}};
    if (loss) run["async_loss"] = loss->ToJson(t0_us_, LagOpsMax());
    if (!o_.report_dir.empty()) WriteHistory(history);
    return run;
  }

  // Async mode promises linearizability only while no failover took the unreplicated tail
  // away: there, the history is judged up to the first fault (what a failover then loses is
  // judged by the loss accounting). Sync mode promises it throughout: the whole history.
  std::optional<int64_t> LinearizableUntilUs() const {
    if (s_.mode != "async") return std::nullopt;
    std::optional<int64_t> first_ms;
    for (const auto& a : armed_) {
      if (a.fired && (!first_ms || a.start_ms < *first_ms)) first_ms = a.start_ms;
    }
    if (!first_ms) return std::nullopt;
    return t0_us_ + *first_ms * 1000;
  }

  lin::CheckResult JudgeLinearizable(const std::vector<OpRecord>& history) const {
    const std::optional<int64_t> until_us = LinearizableUntilUs();
    return CheckLinearizable(until_us ? HistoryBefore(history, *until_us) : history,
                             {kLinearizableTimeLimitMs});
  }

  json LinearizabilityFacts(const lin::CheckResult& lin) const {
    json facts = LinearizabilityJson(lin, t0_us_);
    const std::optional<int64_t> until_us = LinearizableUntilUs();
    facts["judged"] = until_us ? "async mode: operations invoked before the first fault, at +" +
                                     std::to_string((*until_us - t0_us_) / 1000) + " ms"
                               : std::string("the whole history");
    return facts;
  }

  uint64_t LagOpsMax() const { return cluster_->config().replication.lag_ops_max; }

  // Every coordinator's event log, each ended where the run killed its coordinator (a killed
  // process cannot say it stopped acting). A log that cannot be read is an error in `status`;
  // with several coordinators, one that never started has none, and that is no error.
  std::vector<CoordinatorLog> CoordinatorLogs(Status* status) {
    std::vector<CoordinatorLog> logs;
    const std::vector<std::string> hosts = cluster_->CoordinatorHosts();
    const std::vector<std::string> paths = cluster_->EventLogPaths();
    for (std::size_t i = 0; i < paths.size(); ++i) {
      CoordinatorLog log;
      log.coordinator = cluster_->etcd() && i < hosts.size() ? hosts[i] : "coordinator";
      auto events = ReadEventLog(paths[i]);
      if (events.ok()) {
        log.events = std::move(events).value();
      } else if (!cluster_->etcd() || events.status().code() != Code::kNotFound) {
        *status = events.status();
      }
      std::lock_guard lock(mu_);
      for (int64_t t_us : stopped_us_[log.coordinator]) {
        log.events.push_back({{"kind", "leadership"},
                              {"coordinator", log.coordinator},
                              {"acting", false},
                              {"reason", "killed by the chaos run"},
                              {"t_us", t_us}});
      }
      std::stable_sort(log.events.begin(), log.events.end(), [](const json& x, const json& y) {
        return x.value("t_us", int64_t{0}) < y.value("t_us", int64_t{0});
      });
      logs.push_back(std::move(log));
    }
    return logs;
  }

  // For each fault on the acting coordinator: how long until another one acted (ms; -1: none).
  json LeaderFailovers(const std::vector<CoordinatorLog>& logs) const {
    std::vector<int64_t> at_us;
    std::vector<std::string> what;
    for (const auto& a : armed_) {
      const FaultKind k = a.spec.kind;
      const bool strikes_leader = k == FaultKind::kLeaderKill || k == FaultKind::kLeaderFreeze ||
                                  k == FaultKind::kLeaderIsolate ||
                                  (IsHostFault(k) && !a.leader_host.empty());
      if (!a.fired || !strikes_leader) continue;
      at_us.push_back(t0_us_ + a.start_ms * 1000);
      what.push_back(KindName(k) + " " + a.resolved);
    }
    const std::vector<double> ms = LeaderFailoverMs(logs, at_us);
    json out = json::array();
    for (std::size_t i = 0; i < ms.size(); ++i) out.push_back({{"fault", what[i]}, {"ms", ms[i]}});
    return out;
  }

  // The longest stretch without an acknowledged write while no fault troubled the cluster:
  // from a moment after start to the first fault, and from a moment after the last one
  // healed to the end of the run. What the clients see of a cluster under load alone.
  double SteadyGapMs(int64_t end_ms) const {
    int64_t first_ms = end_ms, last_ms = kSteadyFromMs;
    for (const auto& a : armed_) {
      if (!a.fired) continue;
      first_ms = std::min(first_ms, a.start_ms);
      last_ms = std::max(last_ms, std::max(a.start_ms, a.end_ms) + kGapSettleMs);
    }
    auto gap = [this](int64_t from_ms, int64_t to_ms) {
      if (to_ms <= from_ms) return 0.0;
      return workload_->LongestAckGap(t0_us_ + from_ms * 1000, t0_us_ + to_ms * 1000).length_us /
             1000.0;
    };
    return std::max(gap(kSteadyFromMs, first_ms), gap(last_ms, end_ms));
  }

  // The longest stretch without an acknowledged write from the fault until a moment after
  // it healed (or, never healed, after it fired).
  double FaultGapMs(const Armed& a) const {
    const int64_t to_ms = std::max(a.start_ms, a.end_ms) + kGapSettleMs;
    return workload_->LongestAckGap(t0_us_ + a.start_ms * 1000, t0_us_ + to_ms * 1000).length_us /
           1000.0;
  }

  // expect_failover: after each host fault on the active's host, the other replica acknowledged
  // writes (it was promoted), within the run.
  json FailoverVerdict() const {
    std::vector<std::string> details;
    const auto& replicas = cluster_->config().replicas;
    for (const auto& a : armed_) {
      if (!a.fired || !a.hit_active) continue;
      const int not_by = a.replica == replicas[0].name ? 0 : 1;
      if (workload_->FirstAckAfter(t0_us_ + a.start_ms * 1000, not_by) > 0) continue;
      details.push_back(KindName(a.spec.kind) + " " + a.resolved + " at +" +
                        std::to_string(a.start_ms) + " ms (" + a.note + "): " + a.replica +
                        " was active and no write was acknowledged by the other replica after "
                        "it: no failover");
    }
    return {{"name", "failover-to-other"},
            {"ok", details.empty()},
            {"violations", details.size()},
            {"details", details}};
  }

  // expect_gap: steady — the faults cost the clients nothing they do not see without them.
  static json GapVerdict(double steady_ms, double during_ms) {
    const double allowed_ms = std::max(2 * steady_ms, steady_ms + kGapNoiseMs);
    std::vector<std::string> details;
    if (during_ms > allowed_ms) {
      char line[200];
      std::snprintf(line, sizeof(line),
                    "longest gap between acknowledged writes during the faults %.1f ms, steady "
                    "%.1f ms (allowed %.1f ms)",
                    during_ms, steady_ms, allowed_ms);
      details.push_back(line);
    }
    return {{"name", "no-client-gap"},
            {"ok", details.empty()},
            {"violations", details.size()},
            {"details", details}};
  }

  // expect_gap: <duration> — a fault that slows the pair by design (a slow disk) still leaves
  // the clients served within the bound the scenario derives from the config's timing.
  static json GapBoundVerdict(double during_ms, int64_t bound_ms) {
    std::vector<std::string> details;
    if (during_ms > static_cast<double>(bound_ms)) {
      char line[200];
      std::snprintf(line, sizeof(line),
                    "longest gap between acknowledged writes during the faults %.1f ms, above "
                    "the bound of %lld ms",
                    during_ms, static_cast<long long>(bound_ms));
      details.push_back(line);
    }
    return {{"name", "no-client-gap"},
            {"ok", details.empty()},
            {"violations", details.size()},
            {"details", details}};
  }

  std::string CampaignReason() {
    std::lock_guard lock(mu_);
    return campaign_.campaign.is_object() ? campaign_.campaign.value("reason", "") : "";
  }

  json RelativeEvents(const std::vector<json>& events) const {
    json out = json::array();
    for (json e : events) {
      e["t_ms"] = (e.value("t_us", int64_t{0}) - t0_us_) / 1000.0;
      out.push_back(std::move(e));
    }
    return out;
  }

  // Completions per 100 ms bucket: ok, fail, latency p50/p99.
  json Throughput() const {
    std::map<int64_t, std::vector<double>> ok;
    std::map<int64_t, uint64_t> fail;
    for (const auto& r : workload_->History()) {
      if (r.complete_us == 0) continue;
      int64_t bucket = (r.complete_us - t0_us_) / 100000 * 100;
      if (r.outcome == OpOutcome::kOk) {
        ok[bucket].push_back((r.complete_us - r.invoke_us) / 1000.0);
      } else {
        ++fail[bucket];
      }
    }
    json out = json::array();
    int64_t last =
        std::max(ok.empty() ? 0 : ok.rbegin()->first, fail.empty() ? 0 : fail.rbegin()->first);
    for (int64_t t = 0; t <= last; t += 100) {
      auto& lat = ok[t];
      std::sort(lat.begin(), lat.end());
      auto pct = [&](double p) {
        return lat.empty() ? 0.0
                           : lat[std::min(lat.size() - 1, static_cast<size_t>(lat.size() * p))];
      };
      out.push_back({{"t_ms", t},
                     {"ok", lat.size()},
                     {"fail", fail[t]},
                     {"p50_ms", pct(0.5)},
                     {"p99_ms", pct(0.99)}});
    }
    return out;
  }

  // The client history as JSON lines (the format `duplex check-history --model duplex-kv`
  // reads): each operation's invoke, with the request's arguments after the key, then its
  // completion, with the reply's value. Times are relative to the workload's start.
  void WriteHistory(const std::vector<OpRecord>& history) const {
    std::error_code ec;
    fs::create_directories(o_.report_dir, ec);
    std::ofstream out(fs::path(o_.report_dir) / "history.jsonl");
    for (const json& line : HistoryLines(history, t0_us_)) out << line.dump() << "\n";
  }

  const Scenario& s_;
  const RunOptions& o_;
  std::mt19937_64 rng_;
  std::unique_ptr<ClusterFixture> cluster_;
  std::unique_ptr<Workload> workload_;
  std::map<std::string, std::unique_ptr<chaos::FaultProxy>> peer_, control_;
  std::vector<Armed> armed_;
  int64_t t0_us_ = 0;
  std::mutex mu_;  // guards campaign_, campaign_done_ (written by the upgrade thread), stopped_us_
  UpgradeRun campaign_;
  bool campaign_done_ = false;
  std::map<std::string, std::vector<int64_t>> stopped_us_;  // coordinator host -> kills
};

}  // namespace

const std::vector<std::string>& InvariantNames() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> names;
    for (Invariant invariant : kInvariants) names.push_back(InvariantName(invariant));
    return names;
  }();
  return kNames;
}

StatusOr<json> RunScenario(const Scenario& scenario, const RunOptions& options) {
  json run;
  {
    Run r(scenario, options);
    auto result = r.Go();
    if (!result.ok()) return result.status();
    run = std::move(result).value();
  }  // the cluster is stopped here, before the report is written
  if (!options.report_dir.empty()) DUPLEX_RETURN_IF_ERROR(WriteRunReport(run, options.report_dir));
  return run;
}

}  // namespace duplex
