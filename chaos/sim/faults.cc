#include "chaos/sim/faults.h"

#include <vector>

namespace duplex::sim {

FaultScheduler::FaultScheduler(SimContext& sim, Network& network, Processes& processes,
                               Agents& agents, Coordinators& coordinators, SimEtcd& etcd)
    : sim_(sim),
      network_(network),
      processes_(processes),
      coordinators_(coordinators),
      hosts_(sim, network, processes, agents, coordinators),
      coordinator_faults_(sim, network, coordinators, etcd),
      torn_rng_(sim.options.seed ^ 0x746f726e) {}

// Poisson-ish: each kind of fault fires with its rate, checked every 50 ms.
void FaultScheduler::Start() {
  sim_.queue.Every(50 * kMs, [this] {
    if (!loading_) return false;
    Fire();
    return true;
  });
}

bool FaultScheduler::Roll(double per_s) { return per_s > 0 && sim_.rng.Chance(per_s * 0.05); }

// One check of every kind of fault, in a fixed order (each draw comes from the seed).
void FaultScheduler::Fire() {
  const Profile& p = sim_.profile;
  const char* victim = sim_.rng.Chance(0.5) ? "a" : "b";
  if (Roll(p.crash_per_s)) {
    Count("crash");
    processes_.Crash(processes_.at(victim), "killed (SIGKILL)");
  }
  if (Roll(p.pause_per_s)) Pause(processes_.at(victim));
  if (Roll(p.partition_per_s)) Partition();
  if (Roll(p.clock_jump_per_s)) JumpClock(processes_.at(victim));
  if (Roll(p.coordinator_restart_per_s)) {
    const std::string kind = coordinator_faults_.KillLeader(torn_rng_.Chance(0.5));
    if (!kind.empty()) Count(kind);
  }
  if (Roll(p.write_error_per_s)) FailDisk(processes_.at(victim));
  if (Roll(p.power_loss_per_s)) CutPower(victim);
  FireHostFaults();
  FireCoordinatorFaults();
  if (Roll(p.control_cut_per_s)) CutControl(victim);
}

// Only with three coordinators (the profile's rates are 0 otherwise), but the disk of the
// embedded coordinator (with one only).
void FaultScheduler::FireCoordinatorFaults() {
  const Profile& p = sim_.profile;
  auto count = [this](const std::string& kind) {
    if (!kind.empty()) Count(kind);
  };
  if (Roll(p.leader_freeze_per_s)) count(coordinator_faults_.FreezeLeader());
  if (Roll(p.leader_isolate_per_s)) count(coordinator_faults_.IsolateLeader());
  if (Roll(p.etcd_quorum_loss_per_s)) count(coordinator_faults_.LoseQuorum());
  if (Roll(p.etcd_member_kill_per_s)) count(coordinator_faults_.KillEtcdMember());
  if (Roll(p.coordinator_disk_per_s)) count(coordinator_faults_.FillRecordDisk());
}

// The host faults draw their host only when they fire, so that runs without them draw as
// before.
void FaultScheduler::FireHostFaults() {
  const Profile& p = sim_.profile;
  auto replica_host = [this] { return std::string(sim_.rng.Chance(0.5) ? "h1" : "h2"); };
  auto count = [this](const std::string& kind) {
    if (!kind.empty()) Count(kind);
  };
  if (Roll(p.host_crash_per_s)) count(hosts_.Crash(replica_host()));
  if (Roll(p.host_freeze_per_s)) count(hosts_.Freeze(replica_host()));
  if (Roll(p.host_isolate_per_s)) {
    static const char* kHosts[] = {"h1", "h2", kCoordinatorHost};
    count(hosts_.Isolate(kHosts[sim_.rng.Uniform(0, 2)]));
  }
  if (Roll(p.agent_kill_per_s)) count(hosts_.KillAgent(replica_host()));
}

void FaultScheduler::Pause(Replica& r) {
  if (!r.up) return;
  Count("pause");
  r.paused_until = sim_.now() + sim_.rng.Uniform(50, 600) * kMs;
  sim_.trace.Line("pause " + r.name + " until " + std::to_string(r.paused_until));
}

void FaultScheduler::JumpClock(Replica& r) {
  Count("clock-jump");
  r.clock_offset_ms += sim_.rng.Uniform(-3600 * 1000, 3600 * 1000);  // NTP step, either way
  sim_.trace.Line("clock of " + r.name + " jumps to offset " + std::to_string(r.clock_offset_ms));
}

// The disk fails writes for a while: the store's next write fails and the process stops
// (ReplicaCore's fatal handler), as a real one does; restarts fail meanwhile.
void FaultScheduler::FailDisk(Replica& r) {
  Count("write-error");
  FaultSettings failing = HealthyDisk();
  failing.write_error = sim_.rng.Chance(0.5) ? FaultSettings::WriteError::kIoError
                                             : FaultSettings::WriteError::kNoSpace;
  r.fs->Set(failing);
  sim_.trace.Line("disk errors on " + r.name);
  sim_.queue.After(sim_.rng.Uniform(20, 300) * kMs, [this, name = r.name] {
    processes_.at(name).fs->Set(HealthyDisk());
    sim_.trace.Line("disk of " + name + " healed");
  });
}

// A power cut: unsynced writes are lost. Sometimes both machines at once.
void FaultScheduler::CutPower(const std::string& victim) {
  Count("power-loss");
  std::vector<std::string> cut = {victim};
  if (sim_.rng.Chance(0.5)) cut = {"a", "b"};
  for (const auto& name : cut) {
    Replica& r = processes_.at(name);
    r.fs->CutPower();
    processes_.Crash(r, "power loss");
    r.fs->RestorePower();
  }
}

// A link (or, swizzling, several, healed in another order) cut for a while: between the
// replicas, or between one and the coordinator that leads (the one on h3 when none does).
void FaultScheduler::Partition() {
  const Coordinator* leader = coordinators_.leader();
  const std::string c = CoordinatorNode(leader ? leader->host() : kCoordinatorHost);
  const std::vector<std::string> kLinks = {"a>b", "b>a", "a>" + c, c + ">a", "b>" + c, c + ">b"};
  Count(sim_.profile.swizzle ? "swizzle" : "partition");
  int n = sim_.profile.swizzle ? static_cast<int>(sim_.rng.Uniform(2, 4)) : 1;
  std::vector<std::string> cut;
  for (int i = 0; i < n; ++i) {
    cut.push_back(kLinks[sim_.rng.Uniform(0, static_cast<int64_t>(kLinks.size()) - 1)]);
    network_.Cut(cut.back());
    sim_.trace.Line("cut " + cut.back());
  }
  // Restored one by one, in random order.
  for (size_t i = cut.size(); i > 1; --i) std::swap(cut[i - 1], cut[sim_.rng.Uniform(0, i - 1)]);
  int64_t at = sim_.now();
  for (const auto& link : cut) {
    at += sim_.rng.Uniform(50, 700) * kMs;
    sim_.queue.At(at, [this, link] {
      network_.Restore(link);
      sim_.trace.Line("restore " + link);
    });
  }
}

// Both ways at once and restored together: a replica whose host lost its route to the
// coordinator's, as partition-control does in the catalogue.
void FaultScheduler::CutControl(const std::string& victim) {
  const Coordinator* leader = coordinators_.leader();
  const std::string c = CoordinatorNode(leader ? leader->host() : kCoordinatorHost);
  Count("control-cut");
  const std::string out = victim + ">" + c, in = c + ">" + victim;
  network_.Cut(out);
  network_.Cut(in);
  sim_.trace.Line("cut " + out + " and " + in);
  sim_.queue.After(sim_.rng.Uniform(300, 800) * kMs, [this, out, in] {
    network_.Restore(out);
    network_.Restore(in);
    sim_.trace.Line("restore " + out + " and " + in);
  });
}

}  // namespace duplex::sim
