// The host faults of a simulated run: a host crash (every process of the host dies at once,
// its agent and coordinator too; the host boots again a while later and its agent restarts from its
// record), a freeze (nothing on the host runs or hears anything for a while), an isolation both
// ways or one way (through the network model), and an agent killed and restarted (its replicas keep
// running; the new agent adopts them). Fired by the FaultScheduler, which counts them. Owned
// by the FaultScheduler; single-threaded.
#pragma once

#include <map>
#include <string>

#include "chaos/sim/agents.h"
#include "chaos/sim/context.h"
#include "chaos/sim/coordinators.h"
#include "chaos/sim/network.h"
#include "chaos/sim/replica_process.h"

namespace duplex::sim {

class HostFaults {
 public:
  HostFaults(SimContext& sim, Network& network, Processes& processes, Agents& agents,
             Coordinators& coordinators)
      : sim_(sim),
        network_(network),
        processes_(processes),
        agents_(agents),
        coordinators_(coordinators) {}

  // Each returns the kind of fault injected ("" when none could be: the host is down).
  std::string Crash(const std::string& host);
  std::string Freeze(const std::string& host);
  std::string Isolate(const std::string& host);  // also the coordinator's host, h3
  std::string KillAgent(const std::string& host);
  // The faults stop: every host up (its agent started), thawed and reachable.
  void HealAll();

 private:
  void BootHost(const std::string& host);

  SimContext& sim_;
  Network& network_;
  Processes& processes_;
  Agents& agents_;
  Coordinators& coordinators_;
  std::map<std::string, bool> down_;  // by host: crashed, not booted again yet
};

}  // namespace duplex::sim
