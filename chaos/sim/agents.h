// The simulated node agents: one per replica host (h1, h2), each the daemon's AgentCore
// (upgrade_coordinator/agent/agent_core.h) driven by the simulated clock. It hears desired
// states from the coordinator over the simulated network, starts and signals the replica
// processes of its host, hears their exits, reports to the coordinator (every heartbeat, and
// at once when urgent) and saves its record on its host's disk, from which a restarted agent
// adopts the processes still running. Agents die and freeze with their host, or alone (the
// faults). Owned by the World; single-threaded.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "chaos/sim/context.h"
#include "chaos/sim/network.h"
#include "chaos/sim/replica_process.h"
#include "upgrade_coordinator/agent/agent_core.h"

namespace duplex::sim {

// Where the agents' reports go (every coordinator's control socket).
class AgentListener {
 public:
  virtual ~AgentListener() = default;
  // A report from the agent at `route` reached the coordinator at `node`.
  virtual void OnAgentReport(const std::string& node, const std::string& route,
                             const AgentReport& report) = 0;
};

class Agents {
 public:
  static constexpr int kHeartbeatMs = 100;  // cluster_config.h AgentConfig's default

  Agents(SimContext& sim, Network& network, Processes& processes, AgentListener* listener);

  // Every host's agent starts with its host.
  void StartAll();
  // The agent of `host` starts (again): from its record, adopting what still runs.
  void Start(const std::string& host);
  // The agent's process dies (with its host, or alone); its record stays on the disk.
  void Kill(const std::string& host);
  bool Up(const std::string& host) const { return agents_.at(host).core != nullptr; }
  // The host is frozen until `until_us`: the agent neither runs nor hears anything.
  void Freeze(const std::string& host, int64_t until_us);
  // The faults stop: no agent frozen.
  void ThawAll();

  // A desired state reached the agent's address.
  void OnDesired(const std::string& host, const DesiredState& desired);
  // A package reached the agent's address: kept in the host's package store.
  void OnPackage(const std::string& host, const PackagePart& part);
  // A replica process exited: its agent (if one runs on its host) sees it.
  void OnExited(const std::string& replica, int32_t pid);
  // Each loop turn: every running agent ticks and reports when its heartbeat is due.
  void Tick();

 private:
  // What the agent keeps on its host's disk (the daemon's record.json).
  struct Record {
    DesiredState desired;
    std::vector<ReplicaProcess> processes;
  };
  struct Agent {
    std::string host;
    std::unique_ptr<AgentCore> core;  // null: the agent's process is not running
    Record disk;
    std::vector<StoredPackage> packages;  // its package store, on the host's disk
    int32_t pid = 0;
    int64_t started_us = 0;
    int64_t frozen_until = 0;
    std::deque<std::function<void(Agent&)>> held;  // what reached it while frozen, in order
    int64_t last_report_us = 0;
  };

  static AgentCoreOptions CoreOptions(const std::string& host);
  std::vector<ReplicaProcess> Running(const Agent& a) const;
  // Runs fn on a running agent now, or at its thaw (a frozen host's kernel queues it).
  void OnAgent(const std::string& host, const std::function<void(Agent&)>& fn);
  void Flush(Agent& a);
  void Execute(Agent& a);
  void Launch(Agent& a, const ReplicaSpec& spec);
  void Signal(Agent& a, const SignalProcess& signal);
  void Report(Agent& a, bool urgent);

  SimContext& sim_;
  Network& network_;
  Processes& processes_;
  AgentListener* listener_;
  std::map<std::string, Agent> agents_;  // by host
  int32_t next_pid_ = 50000;             // agents' pids, apart from the replicas'
};

}  // namespace duplex::sim
