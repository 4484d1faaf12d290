// Failover: the arbiter's decision who is active. It elects the first active, replaces a
// crashed active at once and a hung one only after the last lease it was granted ran out,
// and runs planned switchovers (drain, then promote). A promotion is recorded through the
// RecordKeeper (durable first) and then announced through the Announcer the Arbiter
// implements. Owned by the Arbiter; single-threaded.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "upgrade_coordinator/arbiter_record.h"
#include "upgrade_coordinator/arbiter_replicas.h"
#include "upgrade_coordinator/arbiter_types.h"

namespace duplex {

// What the failover part asks of the arbiter: send `replica` its assignment, read from the
// (already durable) record, now.
class Announcer {
 public:
  virtual void Announce(const std::string& replica) = 0;

 protected:
  ~Announcer() = default;
};

class Failover {
 public:
  Failover(const ArbiterOptions& options, RecordKeeper* records, const ReplicaTracker* replicas,
           Announcer* announcer);

  // May `name` become the active now? If not, `why` says why.
  bool Promotable(const std::string& name, int64_t now_us, std::string* why = nullptr) const;

  // The recorded active's process exited: its standby takes over at once if it can,
  // otherwise the record says nobody is active until someone can be.
  void OnActiveExited(const std::string& active, int64_t now_us);
  // Replace the active by its standby once the last lease granted ran out (the hang
  // failover's path), if the standby may take over and no failover is under way. `why`
  // completes "active a ..." in the log. False when nothing was started.
  bool ReplaceActive(const std::string& why, int64_t now_us);
  // Periodic: a silent active (hang failover after its lease), elections, switchover.
  void OnTick(int64_t now_us);
  // The active reported in the current epoch: a switchover may complete.
  void OnActiveReport(int64_t now_us) { CheckSwitchover(now_us); }
  Status RequestSwitchover(int64_t now_us, bool by_campaign);

  // A hang failover waits out the active's lease: no renewals meanwhile.
  bool pending() const { return pending_.has_value(); }
  // A switchover drains the active.
  bool draining() const { return switchover_.has_value(); }
  // The active's lease was renewed now (an assignment echoed its report).
  void LeaseGranted(int64_t now_us);
  // This arbiter starts (a coordinator's start, or a new leader's term): a predecessor may
  // have renewed the active's lease a moment ago, so a hang failover waits that lease out
  // as if this arbiter had granted it now.
  void Begin(int64_t now_us) { last_grant_us_ = now_us; }

  const std::vector<TransitionEvent>& transitions() const { return transitions_; }
  const std::string& switchover_state() const { return switchover_state_; }

 private:
  // A cluster with no active so far (or whose record was lost): the replica with the
  // most state wins an election, whatever the record says of it.
  bool Fresh() const;
  void Promote(const std::string& name, bool skip_lease_wait, const std::string& kind,
               int64_t detected_us, int64_t now_us);
  void CheckPromotion(const std::string& name, const std::string& kind, int64_t detected_us,
                      int64_t now_us) const;
  void CheckActiveSilence(int64_t now_us);
  void CheckAcksCut(const std::string& active, const ReplicaView& v, int64_t now_us);
  void MaybeElect(int64_t now_us);
  void CheckSwitchover(int64_t now_us);

  const ArbiterOptions& options_;
  RecordKeeper* records_;
  const ReplicaTracker* replicas_;
  Announcer* announcer_;
  int64_t last_grant_us_ = 0;  // when the active's lease was last renewed by us
  struct PendingFailover {
    std::string target;
    int64_t detected_us;
    int64_t not_before_us;
  };
  std::optional<PendingFailover> pending_;
  struct Switchover {
    std::string from;
    int64_t started_us;
  };
  std::optional<Switchover> switchover_;
  std::string switchover_state_ = "idle";  // "draining <name>", "done", "failed: <reason>"
  std::vector<TransitionEvent> transitions_;
};

}  // namespace duplex
