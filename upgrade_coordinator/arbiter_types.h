// The arbiter's vocabulary: its options, the durable cluster record and the store that
// keeps it, the actions it asks its driver to carry out, and what it knows of each replica.
// Plain values shared by the Arbiter and its parts (arbiter_record.h, arbiter_replicas.h,
// arbiter_failover.h); no behaviour beyond membership look-ups.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/epoch_step.h"
#include "common/status.h"
#include "replica/frame.h"
#include "upgrade_coordinator/cluster_types.h"

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
  RestartConfig restart;        // the restart policy (restart_policy.h)
  std::string initial_version;  // the configured version: the cluster version at first start
  // A status whose epoch is more than this above the record's, or whose solo request id is
  // as far above the record's sync id, is refused (limits.epoch_step_max).
  uint64_t epoch_step_max = kEpochStepMaxDefault;

  // The member called `name`, or null.
  const Member* Find(const std::string& name) const {
    for (const auto& m : replicas) {
      if (m.name == name) return &m;
    }
    return nullptr;
  }
  // The pair's other member ("" when `name` is the only one).
  std::string Other(const std::string& name) const {
    for (const auto& m : replicas) {
      if (m.name != name) return m.name;
    }
    return "";
  }
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

// Statuses the arbiter refused for a jump past epoch_step_max, by what jumped.
struct ArbiterCounters {
  uint64_t epochs_refused = 0;            // the status's epoch
  uint64_t solo_request_ids_refused = 0;  // the active's solo request id
};

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
  int64_t lease_lost_since_us = 0;   // an active's reports say it has no lease since then
  int64_t peer_silent_since_us = 0;  // ... that it has heard nothing from its standby since then
  bool process_alive = false;
  int32_t pid = 0;
  std::vector<int32_t> exited_pids;  // the last few: their late reports are stale
  std::vector<int64_t> crashes_us;   // within the restart window
  int64_t restart_at_us = 0;         // 0: no restart scheduled
  bool stop_requested = false;       // a StopReplica is out; cleared when the process exits
  uint64_t starts = 0;
};

}  // namespace duplex
