// The fault scheduler: while the load runs, every 50 ms each kind of fault of the
// run's profile fires with its rate (crashes, pauses, partitions, swizzling and control cuts, clock
// jumps, disk write errors, power cuts, the host faults of host_faults.h and the coordinator
// and etcd faults of coordinator_faults.h). Owned by the World; single-threaded.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "chaos/sim/agents.h"
#include "chaos/sim/context.h"
#include "chaos/sim/coordinator_faults.h"
#include "chaos/sim/coordinators.h"
#include "chaos/sim/etcd.h"
#include "chaos/sim/host_faults.h"
#include "chaos/sim/network.h"
#include "chaos/sim/replica_process.h"
#include "chaos/sim/rng.h"

namespace duplex::sim {

class FaultScheduler {
 public:
  FaultScheduler(SimContext& sim, Network& network, Processes& processes, Agents& agents,
                 Coordinators& coordinators, SimEtcd& etcd);

  void Start();
  // No fault fires from now on (those under way end as drawn).
  void Stop() { loading_ = false; }
  // The faults stop: every host up, thawed and reachable.
  void HealHosts() { hosts_.HealAll(); }
  // The faults injected so far, by kind.
  const std::map<std::string, uint64_t>& counts() const { return counts_; }

 private:
  bool Roll(double per_s);
  void Count(const std::string& kind) { ++counts_[kind]; }
  void Fire();
  void FireHostFaults();
  void FireCoordinatorFaults();
  void Pause(Replica& r);
  void JumpClock(Replica& r);
  void FailDisk(Replica& r);
  void CutPower(const std::string& victim);
  void Partition();
  // Profile::control_cut_per_s: the victim's links to and from the leading coordinator.
  void CutControl(const std::string& victim);

  SimContext& sim_;
  Network& network_;
  Processes& processes_;
  Coordinators& coordinators_;
  HostFaults hosts_;
  CoordinatorFaults coordinator_faults_;
  // Whether a coordinator restart is torn (killed between persisting and acting): its own
  // stream, so that the seeds draw everything else as they did before it existed.
  Rng torn_rng_;
  bool loading_ = true;
  std::map<std::string, uint64_t> counts_;
};

}  // namespace duplex::sim
