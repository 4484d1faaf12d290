// AgentCore: a node agent's decisions, sans-I/O. It holds the desired state the coordinator
// last sent for its host and converges the replica processes to it, level-triggered (the
// state, not the messages, decides): it starts a replica whose asked-for instance it has
// not started, stops one that must not run (SIGTERM, SIGKILL after the grace), reports
// every exit at once, and restarts a crashed replica by itself only while the coordinator
// is unreachable and the desired state allows it. It never decides roles: a process it
// starts waits out of service for the coordinator's assignment. The daemon (agent_daemon.h)
// or the simulator delivers events and carries out actions. Single-threaded.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "common/epoch_step.h"
#include "upgrade_coordinator/agent/agent_protocol.h"
#include "upgrade_coordinator/cluster_types.h"

namespace duplex {

struct AgentCoreOptions {
  std::string host;
  int alone_after_ms = 500;  // no word from the coordinator this long: on its own
  RestartConfig restart;     // restarts while alone: the cluster's policy (restart_policy.h)
  // A desired state asking for an instance more than this above the one started last is
  // refused (limits.epoch_step_max): adopted, the coordinator's next `+1` would wrap.
  uint64_t epoch_step_max = kEpochStepMaxDefault;
};

struct StartProcess {
  ReplicaSpec spec;
};
struct SignalProcess {
  std::string replica;
  int32_t pid = 0;
  int signal = 0;
};
struct SendReport {
  bool urgent = false;  // an exit: now, not at the next heartbeat
};
struct SaveRecord {};  // the desired state or a process changed: persist before acting on it
using AgentAction = std::variant<StartProcess, SignalProcess, SendReport, SaveRecord>;

class AgentCore {
 public:
  explicit AgentCore(AgentCoreOptions options);

  // A restarted agent: the desired state its record held, the replica processes found still
  // running (adopted, not restarted) and those its record knew that are gone (pid 0: the
  // instance they ran is not started again; the coordinator asks for a new one).
  void Restore(const DesiredState& desired, const std::vector<ReplicaProcess>& known,
               int64_t now_us);
  // A desired state of a coordinator term below the highest seen is ignored (a deposed
  // leader's; logged once per term, counted) and does not count as hearing the coordinator.
  // Term 0, the embedded coordinator, is always taken.
  void OnDesired(const DesiredState& desired, int64_t now_us);
  void OnCoordinatorHeard(int64_t now_us);
  void OnStarted(const std::string& replica, int32_t pid, int64_t now_us);
  void OnStartFailed(const std::string& replica, const std::string& why, int64_t now_us);
  void OnExited(const std::string& replica, int32_t pid, const std::string& how, int64_t now_us);
  void OnTick(int64_t now_us);
  // When OnTick must run again if nothing arrives first, OnTick having run at now_us: a
  // stop's SIGKILL, an alone restart, or the moment a crashed replica's agent becomes alone
  // (INT64_MAX: none). The daemon waits for it, or for its report heartbeat, in its poll.
  int64_t NextTickUs(int64_t now_us) const;
  std::vector<AgentAction> TakeActions();
  // Actions decided while the last ones were carried out (a start's pid, its report).
  bool HasActions() const { return !actions_.empty(); }

  const DesiredState& desired() const { return desired_; }
  // Every replica the agent runs or was asked about, sorted by name.
  std::vector<ReplicaProcess> processes() const;
  bool Alone(int64_t now_us) const;
  // The highest coordinator term a desired state came with (in memory only: a restarted
  // agent takes the next leader's word, as a restarted etcd numbers its revisions anew).
  uint64_t term() const { return term_; }
  uint64_t stale_term_states() const { return stale_term_states_; }
  // Desired states refused for an instance past the step bound.
  uint64_t instances_refused() const { return instances_refused_; }

 private:
  struct Proc {
    ReplicaProcess view;
    uint64_t started_instance = 0;  // the highest instance it started (or adopted)
    int64_t kill_at_us = 0;         // stopping: SIGKILL then
    int64_t restart_at_us = 0;      // alone: a restart is due then
    bool crashed = false;           // its last exit was no stop of ours, and not restarted yet
    std::vector<int64_t> alone_crashes_us;
  };
  bool FollowsTerm(uint64_t term);
  // False (counted, logged) when a replica's instance jumps past the step bound.
  bool InstancesWithinStep(const DesiredState& desired);
  void Converge(int64_t now_us);
  void ConvergeOne(const ReplicaSpec& spec, Proc& p, int64_t now_us);
  void Stop(Proc& p, uint32_t grace_ms, int64_t now_us);
  void Start(const ReplicaSpec& spec, Proc& p);
  void ScheduleAloneRestart(Proc& p, int64_t now_us);

  const AgentCoreOptions options_;
  DesiredState desired_;
  std::map<std::string, Proc> procs_;
  std::vector<AgentAction> actions_;
  int64_t heard_us_ = 0;
  uint64_t term_ = 0;
  uint64_t stale_term_states_ = 0;
  uint64_t stale_term_logged_ = 0;  // the last refused term logged
  uint64_t instances_refused_ = 0;
};

}  // namespace duplex
