// ReplicaOptions: how one replica is configured (names, timers, bounds). Built by the
// daemon or the simulator and handed to ReplicaCore, which copies it; plain data.
#pragma once

#include <cstdint>
#include <string>

namespace duplex {

struct ReplicaOptions {
  std::string name;
  std::string endpoint;     // this replica's data-plane endpoint, given to clients as a hint
  std::string archive_dir;  // "_checkpoint" writes only below this directory
  bool async = false;       // acknowledge after the local commit, lag bounded by max_lag_ops
  int heartbeat_ms = 20;
  int lease_ms = 200;
  int ack_timeout_ms = 100;       // the standby silent this long: ask the coordinator to go solo
  uint64_t max_batch_ops = 1024;  // group commit: requests per WriteBatch
  uint64_t max_lag_ops = 10000;   // deltas in flight to the standby
  uint64_t max_queue = 10000;     // client requests waiting for a group commit
  uint64_t snapshot_chunk_bytes = 1 << 20;
  uint32_t snapshot_window_chunks = 16;
  uint64_t tail_batch_ops = 512;  // deltas per catch-up message
  // A client's session entry (its last answer, for retries) idle this long is erased; a
  // retry arriving later runs again. 0: sessions never expire.
  int64_t session_expiry_ms = 3600 * 1000;
  int32_t pid = 0;  // reported to the coordinator; 0 = this process's
  // The chaos checker's self-test (common/mutants.h): resume a standby's log tail without
  // checking that its last entry is from the same epoch as ours, i.e. keep a deposed
  // active's unreplicated entries.
  bool mutant_skip_epoch_check = false;
};
static_assert(ReplicaOptions{}.heartbeat_ms * 3 < ReplicaOptions{}.lease_ms,
              "a lease must survive a lost heartbeat or two");

}  // namespace duplex
