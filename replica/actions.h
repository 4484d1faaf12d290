// What ReplicaCore asks its I/O layer to do (actions), where they go (ActionSink) and
// what the core counts (ReplicaCounters). Plain values shared by the core, its parts and
// the daemon or simulator that carries the actions out. Single-threaded, like the core.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <variant>

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
};

}  // namespace duplex
