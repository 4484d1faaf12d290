// Lab: N simulated hosts on this machine, each a loopback address 127.0.N.1 with its own data
// directory and agent (and the coordinator on the host the config places it; with --etcd an
// etcd member and a coordinator on each of three hosts). Start, crash, freeze, thaw, isolate
// and heal hosts, strike one process of a host, and take the lab down. Owned by one `duplex lab`
// command or one test; each call reads /proc and runs nft as it needs; its state is
// <lab dir>/lab.json (lab_state.h). Thread-compatible.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
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
  // Writes the derived config when there is one, starts the etcd members (--etcd), an agent on
  // every host (not only those with a replica: each host of the lab is a machine) and the
  // coordinators, each in its own session (setsid) with its output in <host dir>/etcd.log,
  // agent.log or coordinator.log, and records them in lab.json. `duplex_binary` is the duplex
  // program run as `agent` and `coordinator`. Refuses when a lab is already up in plan.dir.
  static StatusOr<Lab> Start(const LabPlan& plan, const std::string& duplex_binary);
  // The lab up in `dir`; NotFound "no lab is up at <dir> (no lab.json)" when none is.
  static StatusOr<Lab> Open(const std::string& dir);

  const LabState& state() const { return state_; }
  // The config the lab's processes run with.
  StatusOr<ClusterConfig> Config() const;

  // Waits (bounded) for the (leading) coordinator's /status to show an active; its name. Fails
  // early, naming the log, when a process the lab started (a child of ours) exits.
  StatusOr<std::string> WaitActive(int timeout_ms) const;

  // The /status of the coordinator that acts: the one whose /status says "role": "leader" (the
  // highest term when two do), or the only one. Unavailable when none answers as leader.
  StatusOr<nlohmann::json> LeaderStatus(int timeout_ms) const;
  // The host of the acting coordinator ("" for a coordinator on no host).
  StatusOr<std::string> LeaderHost(int timeout_ms) const;

  // Unknown hosts are InvalidArgument naming the lab's hosts.
  StatusOr<int> Crash(const std::string& host) const;   // the number of processes killed
  StatusOr<int> Freeze(const std::string& host) const;  // the number stopped
  StatusOr<int> Thaw(const std::string& host) const;    // the number continued
  // Starts the host's etcd member, agent and coordinator (those it has), unless already
  // running: how a crashed host boots again. The records of what it started.
  StatusOr<std::vector<LabProcessRecord>> StartHost(const std::string& host,
                                                    const std::string& duplex_binary);
  // One process of a host: its coordinator, etcd member or agent. Signal sends `signal` to it
  // (its pid; NotFound when it does not run); Start starts it unless it runs (nullopt then).
  StatusOr<pid_t> Signal(LabRole role, const std::string& host, int signal) const;
  StatusOr<std::optional<LabProcessRecord>> Start(LabRole role, const std::string& host,
                                                  const std::string& duplex_binary);
  // Drops the host's traffic (kBoth), or that from peer (kFrom) or to peer (kTo); peer is a
  // host's name or "all". Needs root.
  Status Isolate(const std::string& host, Direction direction, const std::string& peer);
  // Drops the host's TCP traffic on `ports` only (PortScope): its coordinator cut from the
  // replicas (service: its control port) or from etcd (links: the etcd ports). Needs root.
  Status IsolatePorts(const std::string& host, const std::vector<int>& ports, PortScope scope);
  // Removes every rule the lab added (its nftables table) and nothing else. Needs root.
  Status Heal();
  // Heal, POST /shutdown to the coordinator (bounded), SIGTERM then SIGKILL to every
  // process tagged with the lab (frozen ones continued), remove lab.json. Data directories stay.
  // The number of processes stopped.
  StatusOr<int> Down();

  // Hosts, their processes (the lab's and those they started: pid, role, state, command),
  // the coordinators (role and term from their /status), the etcd members (healthy or not),
  // the isolation rules: what `duplex lab status --json` prints.
  nlohmann::json StatusJson() const;

 private:
  explicit Lab(LabState state) : state_(std::move(state)) {}
  const LabHost* FindLabHost(const std::string& name) const;
  Status CheckHost(const std::string& name) const;
  StatusOr<LabProcessRecord> Spawn(LabRole role, const std::string& host,
                                   const std::string& duplex_binary) const;
  bool Running(const LabProcessRecord& record) const;
  // The lab's record of role on host (null when it started none there).
  const LabProcessRecord* FindRecord(LabRole role, const std::string& host) const;
  const LabEtcdMember* FindMember(const std::string& host) const;
  bool HasCoordinator(const std::string& host) const;
  std::vector<std::string> ProcessArgv(LabRole role, const std::string& host,
                                       const std::string& duplex_binary) const;
  nlohmann::json CoordinatorsJson() const;
  nlohmann::json EtcdJson() const;

  LabState state_;
};

}  // namespace duplex::lab
