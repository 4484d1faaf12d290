// The fault profile of one simulated run: which faults it injects and how hard, drawn
// from its seed (BUGGIFY-style: each knob on or off, and how hard, per run). A plain
// value, owned by SimContext and read by every part; single-threaded.
#pragma once

#include <cstdint>
#include <string>

#include "chaos/sim/rng.h"

namespace duplex::sim {

struct Profile {
  double drop = 0, duplicate = 0;
  int64_t delay_min_us = 50, delay_max_us = 300;
  double crash_per_s = 0, pause_per_s = 0, partition_per_s = 0, coordinator_restart_per_s = 0;
  double write_error_per_s = 0, power_loss_per_s = 0, clock_jump_per_s = 0;
  // Host faults (h1, h2; isolation also h3, the coordinator's): a host crash (every process
  // of the host at once, then it boots again), a freeze, an isolation (both ways or one
  // way), its agent killed (and restarted, adopting its replicas).
  double host_crash_per_s = 0, host_freeze_per_s = 0, host_isolate_per_s = 0;
  double agent_kill_per_s = 0;
  // The new release's package is distributed to both hosts before the campaign starts; else
  // (some runs) the campaign starts without it and the reload fails to start on the host.
  bool distribute = true;
  bool swizzle = false;
  bool upgrade = false;
  std::string variant;  // of the 2.0.0 release: "", crash, unhealthy, corrupt
  double abort = 0;     // chance the operator aborts the campaign midway
  bool auto_finalize = true;
  bool digest_by_hold = false;  // compare digests as with a release older than marks
  // Client churn: the chance, after each operation, that a client goes on under a new
  // client id, leaving its old session idle for the replicas to expire. A client retrying
  // keeps its session (a retry re-dates it once it is half the expiry old), so the expiry
  // only has to be twice the longest silence of a retrying client: a paused active
  // (600 ms) and the retries in between (100 ms apart, to alternating replicas).
  double churn = 0;
  int64_t session_expiry_ms = 0;  // 0: the replicas' default (an hour)
  // Coordinators: 1, the embedded default (its record in memory, surviving its restarts; it
  // always leads, term 0), or 3 (on h1, h2 and h3) electing a leader on the simulated etcd,
  // whose lease TTL this is. coordinator_restart_per_s then kills the leader; the faults
  // below exist only with 3: the leader frozen, the leader cut off from etcd or from the
  // replicas and agents, etcd losing quorum for a while, an etcd member killed (an election
  // among the members, if it led them).
  int coordinators = 1;
  int lease_ttl_s = 1;
  double leader_freeze_per_s = 0, leader_isolate_per_s = 0;
  double etcd_quorum_loss_per_s = 0, etcd_member_kill_per_s = 0;
  // The embedded coordinator's disk full for a while (with 1 coordinator only).
  double coordinator_disk_per_s = 0;
  // The clients split in two kinds: client 0 only reads the hot keys and keeps the replica
  // that last answered it (a client with a cached endpoint, such as a cache or a report),
  // while the others send each attempt to the replica the leading coordinator's record names
  // active (clients behind a router that watches the record). A reader may then stay on an
  // active that the coordinator has already replaced while the writers go to its successor.
  bool split_clients = false;
  // A replica cut from the leading coordinator both ways (its control link) for a while,
  // while its peer, its agent and the clients still reach it (the catalogue's
  // partition-control): an active so cut keeps its lease through its standby's acks.
  double control_cut_per_s = 0;

  // Knobs added later draw from `later`, a stream of their own, so that adding one leaves
  // the earlier draws, and so the traces of the seeds that do not use it, as they were; the
  // split clients and the control cuts from `latest`, for the same reason.
  static Profile Draw(Rng& rng, Rng& later, Rng& latest);

  std::string Describe() const;

 private:
  std::string ControlCutText() const;
};

}  // namespace duplex::sim
