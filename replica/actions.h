// What ReplicaCore asks its I/O layer to do (actions), where they go (ActionSink) and
// what the core counts (ReplicaCounters). Plain values shared by the core, its parts and
// the daemon or simulator that carries the actions out. Single-threaded, like the core.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <variant>

#include "common/histogram.h"
#include "replica/frame.h"

namespace duplex {

// Actions for the I/O layer.
struct ToClient {  // an answer on the client port: to a Request, or on the admin path
  std::string route;
  std::variant<ClientReply, AdminReply> reply;
};
struct ToStandby {
  std::string route;
  PeerMessage message;
};
struct ToActive {
  PeerMessage message;
};
struct ToCoordinator {
  StatusReport status;
};
struct ConnectActive {
  std::string endpoint;  // empty: disconnect
  std::string replica;   // the active's name (its CURVE key is replica.<name>'s)
};
// Work too slow for the event loop (a digest or a checkpoint of the whole state, which
// would hold the active past its lease): the I/O layer runs it on another thread, then
// sends the reply it returns. It touches only a store snapshot and RocksDB, never the
// core. Without a sink it runs at once (simulation, tests).
struct Offload {
  std::function<ToClient()> work;
};
using Action = std::variant<ToClient, ToStandby, ToActive, ToCoordinator, ConnectActive, Offload>;

// Where actions go. Without a sink they are collected for TakeActions(); the daemon
// installs one so that deltas leave for the standby before the local fsync starts.
class ActionSink {
 public:
  virtual ~ActionSink() = default;
  virtual void Do(Action action) = 0;
  // The core is about to block in a durable commit (an fsync): send now whatever Do() has
  // queued, so that replies already released do not wait for it.
  virtual void Flush() {}
};

struct ReplicaCounters {
  uint64_t refused_frames = 0;      // malformed or out-of-place frames
  uint64_t stale_epoch_frames = 0;  // frames from an older epoch
  uint64_t gaps = 0;
  uint64_t duplicates = 0;
  uint64_t snapshots_sent = 0;
  uint64_t snapshots_installed = 0;
  uint64_t deltas_committed = 0;
  uint64_t group_commits = 0;
  uint64_t requests_answered = 0;       // as the active
  uint64_t server_errors = 0;           // answers that failed on our side
  uint64_t sessions_expired = 0;        // as the active
  uint64_t stale_term_assignments = 0;  // from a coordinator term below the highest seen
  uint64_t unassigned_hellos = 0;       // hellos from a replica other than the assigned standby
  // Epochs and ids more than ReplicaOptions::epoch_step_max above the highest known: refused
  // and never adopted, so a forged or corrupted frame cannot wedge the pair.
  uint64_t epochs_refused_peer = 0;        // a hello, ack, refusal, delta batch or chunk
  uint64_t epochs_refused_assignment = 0;  // an assignment's epoch
  uint64_t ids_refused_assignment = 0;     // an assignment's sync id (solo protocol)
  uint64_t admin_jobs_refused = 0;         // digest or checkpoint jobs past admin_jobs_max
  // Counted by the daemon at its edges (the client port, ZeroMQ, HTTP), not by the core.
  uint64_t client_connections_refused = 0;   // past client_connections_max
  uint64_t client_closed_idle = 0;           // no frame for client_idle_timeout_ms
  uint64_t client_closed_partial_frame = 0;  // a frame not completed in client_partial_frame_ms
  uint64_t client_closed_input_bytes = 0;    // the most held when above client_input_bytes_max
  uint64_t zmq_messages_refused_parts = 0;   // more than zmq_parts_max parts
  uint64_t http_bodies_refused = 0;          // above http_body_bytes_max
  // A level, not a count: the client connections open now.
  uint64_t client_connections_open = 0;
  // Since the process started, for /metrics: the active's answers (receipt to reply) and the
  // standby's commits (from the active's send of the oldest delta of a batch to its commit).
  LatencyHistogram request_latency;
  LatencyHistogram standby_commit_lag;
};

}  // namespace duplex
