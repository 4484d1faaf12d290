// The judge of a simulated run: whether the cluster has settled after the faults, and,
// at the end, the verdict: the client history against the active's final state and for
// linearizability, the replicas' digests, the role and feature-flag history (chaos/checker.h), the
// campaign's outcome, and what the coordinators found (one acting coordinator per term). Owned by
// the World; single-threaded.
#pragma once

#include <map>
#include <string>

#include "chaos/checker.h"
#include "chaos/sim/clients.h"
#include "chaos/sim/context.h"
#include "chaos/sim/coordinators.h"
#include "chaos/sim/replica_process.h"
#include "chaos/simulation.h"

namespace duplex::sim {

class Judge {
 public:
  Judge(SimContext& sim, const Processes& processes, const Coordinators& coordinators,
        const Clients& clients)
      : sim_(sim), processes_(processes), coordinators_(coordinators), clients_(clients) {}

  // Clients done, campaign over, an active serving and its standby in sync at its seq.
  bool Settled() const;
  // The run's result; traces its end.
  SimResult Verdict();

 private:
  // Adds "invariant: detail" to out, up to 20 violations.
  static void Violation(SimResult& out, Invariant invariant, const std::string& detail);
  std::string WhyNotSettled() const;
  // The active's final state of every key the clients touched; false when no active
  // runs (the data cannot be judged).
  bool FinalState(SimResult& out, std::map<std::string, std::string>* state);
  // The clients' history against that state (chaos/checker.h), or only its outcomes
  // counted when the data cannot be judged.
  void CheckData(SimResult& out, const std::map<std::string, std::string>& state, bool judged);
  // The whole history, reads included, on the duplex-kv model (CheckLinearizable): a
  // violation names the smallest failing key's history; a key that cannot be decided in
  // time is a violation too, naming the key and its operation count.
  void CheckLinearizability(SimResult& out);
  void CheckEvents(SimResult& out);

  SimContext& sim_;
  const Processes& processes_;
  const Coordinators& coordinators_;
  const Clients& clients_;
};

}  // namespace duplex::sim
