// The simulated world of one run: the parts (processes, agents, network, etcd, coordinators,
// clients, faults, judge) on one clock, wired together. Run() loads the cluster under faults,
// lets it settle and returns the judge's verdict. Made and run by Simulate
// (chaos/simulation.h); single-threaded.
#pragma once

#include <string>

#include "chaos/sim/agents.h"
#include "chaos/sim/clients.h"
#include "chaos/sim/context.h"
#include "chaos/sim/coordinators.h"
#include "chaos/sim/etcd.h"
#include "chaos/sim/faults.h"
#include "chaos/sim/judge.h"
#include "chaos/sim/network.h"
#include "chaos/sim/replica_process.h"
#include "chaos/simulation.h"

namespace duplex::sim {

class World final : private ProcessListener, private AgentListener {
 public:
  explicit World(const SimOptions& o);
  SimResult Run();

 private:
  // Where the processes' exits (to their host's agent), reports and replies go.
  void OnExited(const std::string& replica, int32_t pid) override;
  void OnAgentReport(const std::string& node, const std::string& route,
                     const AgentReport& report) override;
  void OnStatus(const std::string& node, const StatusReport& status) override;
  void OnReply(const std::string& route, const ClientReply& reply) override;
  void OnAdminReply(const std::string& route, const AdminReply& reply) override;

  // The faults stop: links restored, processes resumed, disks healthy, etcd with quorum,
  // every coordinator up.
  void HealAll();

  SimContext sim_;
  Network network_;
  SimEtcd etcd_;
  Processes processes_;
  Agents agents_;
  Coordinators coordinators_;
  Clients clients_;
  FaultScheduler faults_;
  Judge judge_;
};

}  // namespace duplex::sim
