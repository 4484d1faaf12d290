// Lab: N simulated hosts on this machine, each a loopback address 127.0.N.1 with its own data
// directory and agent (and the coordinator on the host the config places it). Start, crash,
// freeze, thaw, isolate and heal hosts, and take the lab down. Owned by one `duplex lab`
// command or one test; each call reads /proc and runs nft as it needs; its state is
// <lab dir>/lab.json (lab_state.h). Thread-compatible.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "chaos/lab/host_processes.h"
#include "chaos/lab/lab_plan.h"
#include "chaos/lab/lab_state.h"
#include "chaos/lab/nft_isolation.h"
#include "common/status.h"

namespace duplex::lab {

class Lab {
 public:
  // Writes the derived config when there is one, starts an agent on every host (not only
  // those with a replica: each host of the lab is a machine, and the next issue puts a
  // coordinator and an etcd member on each) and the coordinator, each in its own session
  // (setsid) with its output in <host dir>/agent.log or coordinator.log, and records them in
  // lab.json. `duplex_binary` is the duplex program run as `agent` and `coordinator`.
  // Refuses when a lab is already up in plan.dir.
  static StatusOr<Lab> Start(const LabPlan& plan, const std::string& duplex_binary);
  // The lab up in `dir`; NotFound "no lab is up at <dir> (no lab.json)" when none is.
  static StatusOr<Lab> Open(const std::string& dir);

  const LabState& state() const { return state_; }
  // The config the lab's processes run with.
  StatusOr<ClusterConfig> Config() const;

  // Waits (bounded) for the coordinator's /status to show an active; its name. Fails early,
  // naming the log, when a process the lab started (a child of ours) exits.
  StatusOr<std::string> WaitActive(int timeout_ms) const;

  // Unknown hosts are InvalidArgument naming the lab's hosts.
  StatusOr<int> Crash(const std::string& host) const;   // the number of processes killed
  StatusOr<int> Freeze(const std::string& host) const;  // the number stopped
  StatusOr<int> Thaw(const std::string& host) const;    // the number continued
  // Starts the host's agent, and the coordinator when it lives there, unless already
  // running: how a crashed host boots again. The records of what it started.
  StatusOr<std::vector<LabProcessRecord>> StartHost(const std::string& host,
                                                    const std::string& duplex_binary);
  // Drops the host's traffic (kBoth), or that from peer (kFrom) or to peer (kTo); peer is a
  // host's name or "all". Needs root.
  Status Isolate(const std::string& host, Direction direction, const std::string& peer);
  // Removes every rule the lab added (its nftables table) and nothing else. Needs root.
  Status Heal();
  // Heal, POST /shutdown to the coordinator (bounded), SIGTERM then SIGKILL to every
  // process tagged with the lab (frozen ones continued), remove lab.json. Data directories stay.
  // The number of processes stopped.
  StatusOr<int> Down();

  // Hosts, their processes (the lab's and those they started: pid, role, state, command),
  // the coordinator, the isolation rules: what `duplex lab status --json` prints.
  nlohmann::json StatusJson() const;

 private:
  explicit Lab(LabState state) : state_(std::move(state)) {}
  const LabHost* FindLabHost(const std::string& name) const;
  Status CheckHost(const std::string& name) const;
  StatusOr<LabProcessRecord> Spawn(LabRole role, const std::string& host,
                                   const std::string& duplex_binary) const;
  bool Running(const LabProcessRecord& record) const;

  LabState state_;
};

}  // namespace duplex::lab
