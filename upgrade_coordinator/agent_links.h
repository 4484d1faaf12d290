// AgentLinks: the coordinator's side of the node agents. It keeps the desired state of
// every host (which replica runs which instance of which package), turns the arbiter's
// StartReplica/StopReplica into changes of it, and turns the agents' reports back into
// process events for the arbiter: a start with its pid, an exit (the fast failover path).
// It also keeps what each agent last said (connected, heartbeat, facts, packages) for
// status, metrics and the campaign. Owned by the coordinator's loop; sans-I/O.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "upgrade_coordinator/agent/agent_protocol.h"
#include "upgrade_coordinator/cluster_config.h"

namespace duplex {

// The command line of a replica after argv[0] (the agent puts its package's binary there).
std::vector<std::string> ReplicaArgs(const ClusterConfig& config, const ReplicaConfig& replica);

struct ProcessEvent {
  enum class Kind { kStarted, kPid, kExited };
  Kind kind;
  std::string replica;
  int32_t pid = 0;
};

// One report's events, split for the arbiter: those to take in order, and the exits to take
// together after them (Arbiter::OnProcessesExited), those with no later event of their replica
// in the report. Both replicas reaped in one pass of their agent are then both gone before a
// failover is decided; an exit followed by the replica's new start stays before that start.
struct SplitEvents {
  std::vector<ProcessEvent> in_order;
  std::vector<std::string> final_exits;
};
SplitEvents SplitFinalExits(const std::vector<ProcessEvent>& events);

class AgentLinks {
 public:
  explicit AgentLinks(const ClusterConfig& config);

  // The arbiter wants a fresh process of `replica` (package "" = the configured binary).
  void Start(const std::string& replica, const std::string& package, const std::string& version);
  // The arbiter wants it stopped (its exit comes back as an event).
  void Stop(const std::string& replica);
  void StopAll();
  bool AllStopped() const;

  // An agent's report, from the connection `route`: the process events it implies.
  std::vector<ProcessEvent> OnReport(const std::string& route, const AgentReport& report,
                                     int64_t now_us);
  // Desired states to send now, with the route of their agent: every host whose desired
  // state changed, and every host that reported (a level-triggered answer).
  std::vector<std::pair<std::string, DesiredState>> TakeOutgoing();
  // The leadership term every desired state built from now on carries (0: the embedded
  // coordinator); agents ignore terms below the highest they have seen.
  void SetTerm(uint64_t term) { term_ = term; }
  uint64_t term() const { return term_; }

  // The pid an agent reported for the replica's process (0: none known yet).
  int32_t KnownPid(const std::string& replica) const;
  // The agent of `host` reported within the silence limit.
  bool Connected(const std::string& host, int64_t now_us) const;
  // How long its agent has been silent (since the links began, when it never reported).
  int64_t SilentUs(const std::string& host, int64_t now_us) const;
  // Why the replica's host lost its active: "process_exit" (its agent reported it),
  // "host_unreachable" (its agent silent too: a dead, frozen or cut-off machine) or
  // "process_silent" (the process hung while its agent kept reporting).
  std::string FailoverCause(const std::string& kind, const std::string& replica,
                            int64_t now_us) const;
  const AgentReport* LastReport(const std::string& host) const;
  // Agent reports refused: an instance more than limits.epoch_step_max above the one this
  // coordinator asked for last (adopted, the next start's `+1` would wrap).
  uint64_t instances_refused() const { return instances_refused_; }
  std::optional<std::string> RouteOf(const std::string& host) const;
  // For /status: each host, its agent and its processes.
  nlohmann::json HostsJson(int64_t now_us) const;

 private:
  enum class Known { kDown, kStarting, kRunning };
  struct Tracked {
    ReplicaSpec spec;
    bool decided = false;  // the coordinator has an opinion (spec is meaningful)
    Known known = Known::kDown;
    int32_t pid = 0;
    bool heard = false;  // its agent has reported on it since this coordinator started
    // A stop asked before this coordinator knew what runs (no agent report yet): the process
    // the agent's first report adopts is stopped.
    bool stop_on_adopt = false;
  };
  struct Agent {
    std::optional<AgentReport> last;
    int64_t heard_us = 0;
    std::string route;
    uint64_t generation = 0;
    bool dirty = false;
    bool answer = false;
  };
  void Reconcile(Tracked& t, const ReplicaProcess& p, std::vector<ProcessEvent>* events);
  // False (counted, logged) when the report's instances jump past the step bound.
  bool InstancesWithinStep(const AgentReport& report);
  DesiredState DesiredFor(const std::string& host) const;
  Tracked& Of(const std::string& replica);
  void Touch(const std::string& replica);

  const ClusterConfig& config_;
  std::map<std::string, Tracked> replicas_;
  std::map<std::string, Agent> agents_;  // by host name
  uint64_t term_ = 0;
  uint64_t instances_refused_ = 0;
};

}  // namespace duplex
