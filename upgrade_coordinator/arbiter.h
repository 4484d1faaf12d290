// Arbiter: the coordinator's failover brain, sans-I/O. It reads replica status
// reports and process exits, keeps the durable cluster record (epoch, active,
// which standby is in sync, solo grants) and answers every report with an
// Assignment. Promotion raises the epoch and is persisted before it is
// announced. The daemon (or the simulator) delivers events and carries out
// actions. Single-threaded.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/status.h"
#include "replica/frame.h"

namespace duplex {

struct ArbiterOptions {
  struct Member {
    std::string name;
    std::string endpoint;  // data plane, given to the other replica as its peer
  };
  std::vector<Member> replicas;
  bool async = false;
  int heartbeat_ms = 20;
  int lease_ms = 200;
  int failure_timeout_ms = 200;  // a live process silent this long is treated as hung
  int startup_grace_ms = 300;  // wait this long for running replicas to report before starting any
  int switchover_timeout_ms = 3000;
  int max_restarts = 5;
  int restart_window_s = 60;
  int restart_backoff_ms = 50;
  std::string initial_version;  // the configured version: the cluster version at first start
};

// The durable part; persisted (RecordStore) before any assignment that depends on it.
struct ClusterRecord {
  uint64_t epoch = 0;
  std::string active;                   // empty: no active granted in this epoch
  std::string last_active;              // holds every acknowledged write when no standby is in sync
  std::map<std::string, bool> in_sync;  // standby has everything the active acknowledged
  uint64_t solo_grant_id = 0;           // the active's solo request recorded (this epoch)
  uint64_t sync_id = 0;                 // highest solo/in-sync request id processed (this epoch)
  bool skip_lease_wait = false;
  std::map<std::string, bool> failed;  // too many crashes: not restarted, never promoted
  // Upgrades (the campaign drives these through the arbiter).
  std::string cluster_version;                         // features on up to this version
  std::map<std::string, std::string> replica_version;  // the version each replica runs
  std::map<std::string, bool> isolated;                // taken out of service
  bool lock = false;                                   // the management lock is held
  bool operator==(const ClusterRecord&) const = default;
};

class RecordStore {
 public:
  virtual ~RecordStore() = default;
  virtual StatusOr<std::optional<ClusterRecord>> Load() = 0;
  virtual Status Save(const ClusterRecord& record) = 0;  // durable when it returns
  // Other durable documents of the coordinator (the campaign), by key.
  virtual StatusOr<std::optional<std::string>> Get(const std::string& key) = 0;
  virtual Status Put(const std::string& key, const std::string& value) = 0;
};

struct SendAssignment {
  std::string replica;
  Assignment assignment;
};
struct StartReplica {
  std::string replica;
};
struct StopReplica {  // restart it (to run its assigned version): it starts again
  std::string replica;
};
using ArbiterAction = std::variant<SendAssignment, StartReplica, StopReplica>;

// One failover or switchover, for status and benchmarks.
struct TransitionEvent {
  std::string kind;  // "crash failover", "hang failover", "switchover", "election"
  std::string from, to;
  uint64_t epoch = 0;
  int64_t detected_us = 0;
  int64_t promoted_us = 0;
};

struct ReplicaView {
  std::string name;
  std::optional<StatusReport> last;
  int64_t last_seen_us = 0;
  bool process_alive = false;
  int32_t pid = 0;
  std::vector<int32_t> exited_pids;  // the last few: their late reports are stale
  std::vector<int64_t> crashes_us;   // within the restart window
  int64_t restart_at_us = 0;         // 0: no restart scheduled
  bool stop_requested = false;       // a StopReplica is out; cleared when the process exits
  uint64_t starts = 0;
};

class Arbiter {
 public:
  Arbiter(ArbiterOptions options, RecordStore* store);

  Status Recover(int64_t now_us);
  void OnStatus(const StatusReport& status, int64_t now_us);
  void OnProcessStarted(const std::string& name, int32_t pid, int64_t now_us);
  void OnProcessExited(const std::string& name, int64_t now_us);
  void OnTick(int64_t now_us);
  // Planned switchover; it completes asynchronously (see switchover_state()). Refused
  // while the management lock is held, unless the campaign holding it asks.
  Status RequestSwitchover(int64_t now_us, bool by_campaign = false);
  // Upgrade commands, each persisted before it is announced.
  void SetIsolated(const std::string& name, bool isolated);
  void SetReplicaVersion(const std::string& name, const std::string& version);
  void SetClusterVersion(const std::string& version);
  void SetLock(bool held);
  // Pause writes on the active (it holds new requests, uncommitted and unrefused, and
  // finishes replicating the rest) so that both replicas reach the same seq, e.g. to
  // compare digests.
  void SetQuiesce(bool quiesce);
  std::string VersionOf(const std::string& name) const;
  std::vector<ArbiterAction> TakeActions();

  const ClusterRecord& record() const { return record_; }
  const std::map<std::string, ReplicaView>& replicas() const { return views_; }
  const std::vector<TransitionEvent>& transitions() const { return transitions_; }
  // "idle", "draining <name>", "done", "failed: <reason>"
  const std::string& switchover_state() const { return switchover_state_; }
  bool Promotable(const std::string& name, int64_t now_us, std::string* why = nullptr) const;
  // The replica's latest report, if its process runs and reported within the failure
  // timeout. What the campaign reads of the cluster (CampaignHost) comes from these two.
  std::optional<StatusReport> RecentReport(const std::string& name, int64_t now_us) const;
  // Recorded in sync, and following the live stream closely (a standby in sync by the
  // record may still be catching up on the last batch).
  bool StandbyInSync(const std::string& name, int64_t now_us) const;

 private:
  const ArbiterOptions::Member* Member(const std::string& name) const;
  std::string Other(const std::string& name) const;
  Assignment AssignmentFor(const std::string& name) const;
  void Send(const std::string& name);
  void Persist(const ClusterRecord& next);
  void HandleSoloProtocol(const StatusReport& s);
  void Promote(const std::string& name, bool skip_lease_wait, const std::string& kind,
               int64_t detected_us, int64_t now_us);
  void MaybeElect(int64_t now_us);
  void CheckActiveSilence(int64_t now_us);
  void CheckSwitchover(int64_t now_us);
  void ScheduleRestart(const std::string& name, int64_t now_us);
  bool Recent(const ReplicaView& v, int64_t now_us) const;

  ArbiterOptions options_;
  RecordStore* store_;
  ClusterRecord record_;
  std::map<std::string, ReplicaView> views_;
  std::vector<ArbiterAction> actions_;
  std::vector<TransitionEvent> transitions_;
  int64_t started_us_ = 0;
  int64_t now_us_ = 0;
  int64_t last_grant_us_ = 0;  // when the active's lease was last renewed by us
  struct PendingFailover {
    std::string target;
    int64_t detected_us;
    int64_t not_before_us;
  };
  std::optional<PendingFailover> failover_;
  struct Switchover {
    std::string from;
    int64_t started_us;
  };
  std::optional<Switchover> switchover_;
  std::map<std::string, bool> planned_restart_;
  bool quiesce_ = false;
  std::string switchover_state_ = "idle";
};

}  // namespace duplex
