// The simulated replica processes: one slot per replica ("a", "b"), each a ReplicaCore
// running the kv processor on a Store, whose disk (a directory on the run's in-memory
// Env, behind a fault layer) survives the process. The table boots, crashes, pauses and
// stops processes, runs events on their cores and carries out what the cores ask for.
// Owned by the World; single-threaded.
#pragma once

#include <rocksdb/env.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "chaos/hooks/fault_fs.h"
#include "chaos/sim/context.h"
#include "chaos/sim/network.h"
#include "chaos/sim/power_trip.h"
#include "replica/replica_core.h"
#include "state_sync/store.h"

namespace duplex::sim {

// One replica process slot: the process may be down; its disk survives it.
struct Replica {
  // Its disk: the run's in-memory file system seen through a fault layer that holds
  // unsynced writes (dropped by a power cut) and can fail writes. Outlives the process.
  std::shared_ptr<FaultFileSystem> fs;
  // The store's view of the disk: fs, through a layer that can cut the power at a given
  // write (one inside a flush or compaction).
  std::shared_ptr<PowerTrip> trip;
  std::unique_ptr<rocksdb::Env> env;
  std::string name;
  bool up = false;
  bool booting = false;         // spawned, not yet running
  int64_t clock_offset_ms = 0;  // its machine's wall clock against simulated time
  int32_t pid = 0;
  int64_t paused_until = 0;
  std::string version;
  std::unique_ptr<Processor> processor;
  std::unique_ptr<Store> store;
  std::unique_ptr<ReplicaCore> core;
  std::string connected;   // the active its ToActive messages go to
  std::string open_error;  // why its store last failed to open ("" = it opened)
};

// A healthy disk: unsynced writes are held in memory (a power cut drops them).
FaultSettings HealthyDisk();

// What the processes' exits, status reports and client replies reach.
class ProcessListener {
 public:
  virtual ~ProcessListener() = default;
  // A process exited (its supervisor, if any, sees it now).
  virtual void OnExited(const std::string& replica, int32_t pid) = 0;
  // A status report reached a coordinator's address (every coordinator is sent each one).
  virtual void OnStatus(const std::string& node, const StatusReport& status) = 0;
  // A reply reached its client's route ("c0", ...).
  virtual void OnReply(const std::string& route, const ClientReply& reply) = 0;
  // An admin reply reached its route ("host-a"/"host-b": the coordinator's digest questions).
  virtual void OnAdminReply(const std::string& route, const AdminReply& reply) = 0;
};

class Processes {
 public:
  Processes(SimContext& sim, Network& network, ProcessListener* listener);
  ~Processes();

  Replica& at(const std::string& name) { return replicas_.at(name); }
  const Replica& at(const std::string& name) const { return replicas_.at(name); }
  const std::map<std::string, Replica>& all() const { return replicas_; }
  // Spawned, booting or up.
  bool Running(const std::string& name) const;

  // A new process of `version` in the slot (not running); it boots a moment later.
  // Returns its pid.
  int32_t Spawn(const std::string& name, const std::string& version);
  // SIGTERM for a reload: stops a process that is up or still starting.
  void Stop(const std::string& name);
  void Crash(Replica& r, const std::string& why);
  // Its host dies: the process ends whether up or still starting.
  void Kill(Replica& r, const std::string& why);
  // Its host freezes until `until_us`: the process (or its start) is stopped meanwhile.
  void Freeze(Replica& r, int64_t until_us);
  // Its host died or thawed: no longer frozen.
  void Thaw(Replica& r);

  // Runs fn on the replica's core and carries out what it asked for. A store failure
  // inside kills that process only. fn may run later (a paused process): it must own
  // what it uses, never refer to its caller's locals.
  void OnReplica(const std::string& name, const std::function<void(ReplicaCore&)>& fn);
  // Each loop turn: every running process ticks, and its state is observed.
  void Tick();
  // The faults stop: no process paused, every disk healthy, no power cut in a compaction.
  void HealAll();

  // A replica machine's wall clock: simulated time, plus its skew and any jumps. Leases
  // and timeouts use the monotonic clock (simulated time), so only what processors read
  // moves.
  int64_t WallMs(const std::string& replica) const;
  // Client sessions the replicas expired, by processes gone and alive.
  uint64_t SessionsExpired() const;
  // Power cuts that fell inside a flush or compaction.
  uint64_t compaction_power_cuts() const { return compaction_power_cuts_; }
  // The replicas' own record of what they were (role, epoch, version, enabled cluster
  // version), one event per change: unlike the coordinator's view, never stale.
  const std::vector<nlohmann::json>& replica_events() const { return replica_events_; }

 private:
  void Boot(Replica& r, int32_t pid);
  bool OpenStore(Replica& r);
  void Down(Replica& r);
  void ExitLater(const Replica& r);
  void Observe(const Replica& r);
  // The store's flushes and compactions, as events (see OpenStore).
  void ScheduleCompaction(const Replica& r);
  void Compact(const std::string& name, int32_t pid);
  void Flush(Replica& r);
  void Do(Replica& r, Offload& a);
  void Do(Replica& r, ToClient& a);
  void Do(Replica& r, ToStandby& a);
  void Do(Replica& r, ToActive& a);
  void Do(Replica& r, ToCoordinator& a);
  void Do(Replica& r, ConnectActive& a);

  SimContext& sim_;
  Network& network_;
  ProcessListener* listener_;
  std::unique_ptr<rocksdb::Env> env_;  // the machines' disks: declared first, freed last
  std::map<std::string, Replica> replicas_;
  int32_t next_pid_ = 100;
  // When the stores flush and compact: a stream of its own, so that the main stream's
  // draws (and with them every fault) stay what they were before compactions ran.
  Rng compaction_rng_;
  uint64_t compaction_power_cuts_ = 0;
  bool faults_stopped_ = false;  // HealAll ran: no more power cuts inside compactions
  std::map<std::string, int64_t> frozen_until_;  // by replica: its host frozen until then
  uint64_t sessions_expired_ = 0;                // by processes gone
  // What Observe samples of a replica, compared each loop turn; JSON only when it changed.
  struct Observed {
    bool alive = false;
    std::string role;
    uint64_t epoch = 0;
    std::string version;
    Version cluster_version;
    bool operator==(const Observed&) const = default;
  };
  std::map<std::string, std::optional<Observed>> replica_state_;  // by replica: last sampled
  std::vector<nlohmann::json> replica_events_;
};

}  // namespace duplex::sim
