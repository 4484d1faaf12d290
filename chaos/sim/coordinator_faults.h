// The coordinator and etcd faults of a simulated run: the leader killed (and restarted after
// a while; torn: between persisting a decision and carrying it out), frozen, cut off from
// etcd only or from the replicas and agents only; etcd losing quorum for a while, or one of
// its members killed (an election among the members if it led them); the embedded
// coordinator's disk full, its record's writes failing. Fired by the
// FaultScheduler, which counts them. Owned by the FaultScheduler; single-threaded.
#pragma once

#include <string>

#include "chaos/sim/context.h"
#include "chaos/sim/coordinators.h"
#include "chaos/sim/etcd.h"
#include "chaos/sim/network.h"

namespace duplex::sim {

class CoordinatorFaults {
 public:
  CoordinatorFaults(SimContext& sim, Network& network, Coordinators& coordinators, SimEtcd& etcd)
      : sim_(sim), network_(network), coordinators_(coordinators), etcd_(etcd) {}

  // Each returns the kind of fault injected ("" when none could be: no coordinator leads).
  std::string KillLeader(bool torn);
  std::string FreezeLeader();
  std::string IsolateLeader();
  std::string LoseQuorum();
  std::string KillEtcdMember();
  // The embedded coordinator's disk full for a while (with etcd there is none: "").
  std::string FillRecordDisk();

 private:
  SimContext& sim_;
  Network& network_;
  Coordinators& coordinators_;
  SimEtcd& etcd_;
};

}  // namespace duplex::sim
