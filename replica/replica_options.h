// ReplicaOptions: how one replica is configured (names, timers, bounds, the catch-up and read
// rules).
// Built by the daemon's wiring or the simulator and handed to ReplicaCore, which copies it;
// plain data.
#pragma once

#include <cstdint>
#include <string>

#include "common/epoch_step.h"

namespace duplex {

// Where a returning standby's log ends, as the active sees it when choosing how the
// standby catches up: by the log tail after `seq`, or by a snapshot.
struct StandbyTail {
  uint64_t seq = 0;            // the standby's last entry, still in the active's log
  uint64_t standby_epoch = 0;  // the epoch of the standby's entry at seq
  uint64_t active_epoch = 0;   // the epoch of the active's own entry at seq
};

// A catch-up rule: true when the tail may resume after tail.seq, false for a snapshot.
using TailRule = bool (*)(const StandbyTail& tail);

// The rule. Each epoch's entries are written by one active, so two logs whose entries at
// one seq come from the same epoch agree up to it. An entry of another epoch may be a
// deposed active's that was never replicated: resuming after it would keep it.
constexpr bool TailResumesInSameEpoch(const StandbyTail& tail) {
  return tail.standby_epoch == tail.active_epoch;
}

// A read (a request the processor answers without a mutation) at a replica that may not
// serve: an active whose lease ran out, or a replica no longer active (deposed, or never
// promoted).
struct UnleasedRead {
  bool was_active = false;  // this process was the active of some epoch
};
// A rule: true when such a read may be answered from this replica's own state.
using UnleasedReadRule = bool (*)(const UnleasedRead& read);
// The rule: never. Another replica may be active by now and have acknowledged writes that
// this one has not seen: its answer would be stale.
constexpr bool ReadsNeedALease(const UnleasedRead&) { return false; }

// What a promoted replica knows when it computes how long to wait before it serves.
struct PromoteWait {
  int64_t now_us = 0;
  int64_t last_renewal_us = 0;  // when this replica, as a standby, last renewed the old lease
  int64_t lease_us = 0;
  bool skip_lease_wait = false;  // the coordinator knows the old active is dead (its exit seen)
};
// A rule: until when the promoted replica waits (it serves from then on).
using PromoteWaitRule = int64_t (*)(const PromoteWait& wait);
// The rule: until the old active's lease, last renewed through this replica, has run out,
// unless the old active is known dead. Before that the old active may still answer reads.
constexpr int64_t WaitOutTheOldLease(const PromoteWait& wait) {
  if (wait.skip_lease_wait) return wait.now_us;
  return wait.last_renewal_us + wait.lease_us > wait.now_us ? wait.last_renewal_us + wait.lease_us
                                                            : wait.now_us;
}

// A rule: whether a read's answer waits for the writes executed before it (committed
// locally, or still in the group commit being built) to be replicated, as a write's answer
// does; false answers it at once.
using ReadWaitRule = bool (*)();
// The rule: it waits. Answered at once, a read may show a write that a failover then loses,
// and a later read, at the new active, no longer shows it.
constexpr bool ReadsWaitForEarlierWrites() { return true; }

// The defaults of heartbeat_ms and lease_ms, named so that their relation can be asserted
// (clang 14 does not take a ReplicaOptions{}, with its strings, as a constant expression).
inline constexpr int kHeartbeatMsDefault = 20;
inline constexpr int kLeaseMsDefault = 200;
static_assert(kHeartbeatMsDefault * 3 < kLeaseMsDefault,
              "a lease must survive a lost heartbeat or two");

struct ReplicaOptions {
  std::string name;
  std::string endpoint;     // this replica's data-plane endpoint, given to clients as a hint
  std::string archive_dir;  // "_checkpoint" writes only below this directory
  bool async = false;       // acknowledge after the local commit, lag bounded by lag_ops_max
  int heartbeat_ms = kHeartbeatMsDefault;
  int lease_ms = kLeaseMsDefault;
  int ack_timeout_ms = 100;       // the standby silent this long: ask the coordinator to go solo
  uint64_t batch_ops_max = 1024;  // group commit: requests per WriteBatch
  uint64_t lag_ops_max = 10000;   // deltas in flight to the standby
  uint64_t queue_max = 10000;     // client requests waiting for a group commit
  uint64_t snapshot_chunk_bytes = 1 << 20;
  uint32_t snapshot_window_chunks = 16;
  uint64_t tail_batch_ops = 512;  // deltas per catch-up message
  // A client's session entry (its last answer, for retries) idle this long is erased; a
  // retry arriving later runs again. 0: sessions never expire.
  int64_t session_expiry_ms = 3600 * 1000;
  int32_t pid = 0;  // reported to the coordinator; 0 = this process's
  // An epoch (from a peer or an assignment) or a solo sync id more than this above the
  // highest known is refused and counted, never adopted (limits.epoch_step_max): one
  // forged or corrupted frame at 2^64-1 would otherwise fence every later assignment out.
  uint64_t epoch_step_max = kEpochStepMaxDefault;
  // Digest and checkpoint jobs running or queued at once; more are refused (admin_jobs_max).
  uint64_t admin_jobs_max = 8;
  // The catch-up rule: whether a returning standby's log may resume after its last entry.
  TailRule tail_resumes = &TailResumesInSameEpoch;
  // What the store's open found corrupt at rest (state_sync/store_quarantine.h): the store
  // was replaced by an empty one that waits for a full resync. Reported while it waits.
  std::string store_corrupt;
  // The read rules: whether a replica that may not serve answers reads, how long a promoted
  // replica waits before it serves, and what a read's answer waits for. Only the defaults
  // are right; the chaos harness's mutants (chaos/hooks/mutants.h) break them on purpose.
  UnleasedReadRule unleased_reads = &ReadsNeedALease;
  PromoteWaitRule promote_wait = &WaitOutTheOldLease;
  ReadWaitRule reads_wait = &ReadsWaitForEarlierWrites;
};

}  // namespace duplex
