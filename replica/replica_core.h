// ReplicaCore: everything a replica decides, as pure reactions
// (now, event) -> actions. It owns the role machine, the active's group commit
// and standby session, and the standby's catch-up; the daemon (or the
// simulator) delivers events and carries out the actions. Storage is a
// synchronous seam (Store). Single-threaded.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "common/fatal.h"
#include "feature_flags/feature_set.h"
#include "replica/frame.h"
#include "replica/processor.h"
#include "replica/role_machine.h"
#include "state_sync/store.h"

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

// Actions for the I/O layer.
struct ToClient {
  std::string route;
  ClientReply reply;
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
  uint64_t requests_answered = 0;  // as the active
  uint64_t server_errors = 0;      // answers that failed on our side
  uint64_t sessions_expired = 0;   // as the active
};

class ReplicaCore final : private RoleListener {
 public:
  ReplicaCore(ReplicaOptions options, Store* store, Processor* processor);

  void OnClientRequest(std::string route, Request request, int64_t now_us);
  void OnFromStandby(std::string route, PeerMessage message, int64_t now_us);
  void OnFromActive(PeerMessage message, int64_t now_us);
  void OnAssignment(const Assignment& assignment, int64_t now_us);
  // Timers, group commit, catch-up streaming, status. Call after each batch of events.
  void OnTick(int64_t now_us);
  // Counts and logs (the first 100, then every 1000th) a frame refused as misplaced.
  void Refuse(const std::string& why);

  std::vector<Action> TakeActions();
  void SetActionSink(ActionSink* sink) { sink_ = sink; }

  RoleState role() const { return machine_.state(); }
  uint64_t epoch() const { return store_->meta().epoch; }
  bool Serving(int64_t now_us) const;
  bool HasWork() const { return !queue_.empty() && !assignment_.hold; }
  StatusReport BuildStatus(int64_t now_us) const;
  const ReplicaCounters& counters() const { return counters_; }
  // Standby: how long the newest deltas took from the active's send to our commit (us),
  // the last kLagSamples commits.
  static constexpr size_t kLagSamples = 4096;
  const std::vector<int64_t>& lag_samples_us() const { return lag_samples_us_; }
  const RoleMachine& machine() const { return machine_; }

 private:
  struct StandbySession {
    std::string route;
    std::string replica;
    uint32_t schema = 1;  // the standby's state schema: what we send is converted to it
    uint64_t session_id = 0;
    uint64_t acked_seq = 0;
    uint64_t next_send = 1;
    bool live = false;
    std::unique_ptr<SnapshotCursor> snapshot;
    uint32_t chunks_sent = 0;
    uint32_t chunks_acked = 0;
    bool last_chunk_sent = false;
    uint64_t catchup_keys = 0, catchup_bytes = 0;  // snapshot entries sent (progress)
    int64_t last_heard_us = 0;
    int64_t last_sent_us = 0;
    int64_t progress_us = 0;  // when acked_seq last grew (or the session began)
  };
  struct PendingReply {
    uint64_t seq;
    int64_t since_us;
    std::string route;
    ClientReply reply;
  };

  void OnRoleEntered(RoleState state) override;
  void ApplyClusterVersion(const std::string& version);
  // Deltas (or raw snapshot entries) converted from `from` to `to`; an error names why not.
  StatusOr<std::vector<Delta>> ConvertDeltas(std::vector<Delta> deltas, uint32_t to) const;
  // A snapshot taken for a digest, and the schemas it is read from and in.
  struct OpenDigest {
    std::shared_ptr<SnapshotCursor> cursor;
    uint32_t from = 0, to = 0;
  };
  static constexpr size_t kMaxOpenDigests = 4;
  // The digest of a snapshot's entries as they read in schema `to`; thread-safe.
  StatusOr<StateDigest> DigestOf(SnapshotCursor& cursor, uint32_t from, uint32_t to) const;
  // The offloaded computation of one digest, answering `request`.
  Offload DigestWork(const std::string& route, const Request& request, OpenDigest open) const;
  void DigestRequest(const std::string& route, const Request& request, int64_t now_us);
  StatusOr<std::vector<Mutation>> ConvertEntries(std::vector<Mutation> entries, uint32_t from,
                                                 uint32_t to) const;
  void Emit(Action action);
  // Appends deltas to the store durably (a failure is fatal), after the sink has sent what
  // it holds.
  void Commit(const std::vector<Delta>& deltas);
  uint64_t last_seq() const { return store_->meta().applied_seq; }
  void Adopt(uint64_t epoch);
  void Reply(const std::string& route, const Request& request, Response response);
  ToClient MakeReply(const std::string& route, const Request& request, Response response) const;
  void ReplyNotActive(const std::string& route, const Request& request);
  void FailPending(const char* why);
  void SendStatus();
  // Drained for a switchover: not serving, and the standby has everything.
  bool Demoted() const;
  bool SoloGranted() const;

  // Active side (replica_active.cc).
  void BeginActiveTerm();
  void FlushQueue(int64_t now_us);
  void ReleaseReplies(int64_t now_us);
  void CountAnswer(Code code, int64_t latency_us);
  void CheckStandbyProgress(int64_t now_us);
  void StartSession(const std::string& route, const Hello& hello);
  void StreamToStandby(int64_t now_us);
  // Both return false when the standby cannot read our state and its session was dropped.
  bool SendSnapshotChunks(int64_t now_us);
  bool SendToStandby(PeerMessage message, int64_t now_us);
  void OnAck(const Ack& ack, int64_t now_us);
  void LearnEpoch(uint64_t seen);
  DeltaBatch MakeBatch(std::vector<Delta> deltas, int64_t now_us) const;
  // Sends deltas to a live standby and commits them.
  void Replicate(const std::vector<Delta>& deltas, int64_t now_us);
  void ExpireSessions(int64_t now_us);
  // How long ago a session entry was last used, as far as this term can tell.
  int64_t SessionAgeUs(const SessionEntry& entry, int64_t now_us) const;

  // Standby side (replica_standby.cc).
  void SayHello(int64_t now_us);
  void Resync(int64_t now_us);
  void OnDeltaBatch(const DeltaBatch& batch, int64_t now_us);
  void OnSnapshotChunk(const SnapshotChunk& chunk, int64_t now_us);
  bool AcceptFromActive(uint64_t epoch, uint64_t session_id);
  void AckActive(int64_t echo_us, int64_t now_us);
  void CommitIncoming(int64_t now_us);
  void OnDigestMark(uint64_t seq, int64_t now_us);

  ReplicaOptions options_;
  Store* store_;
  Processor* processor_;
  RoleMachine machine_;
  FeatureSet features_;
  ConverterRegistry converters_;
  bool needs_resync_ = false;  // the stored state is in another schema than ours
  std::vector<Action> actions_;
  ActionSink* sink_ = nullptr;
  int64_t now_us_ = 0;
  int64_t last_status_us_ = 0;
  bool reported_demoted_ = false;  // in the last status sent
  Assignment assignment_;
  ReplicaCounters counters_;

  // Active.
  std::optional<StandbySession> standby_;
  std::vector<std::pair<std::string, Request>> queue_;
  std::deque<PendingReply> pending_;
  // Clients' last answers read or written in this active term. While active, this replica
  // is the only writer of sessions, so the cache cannot go stale before the term ends
  // (cleared at the next one). Saves a RocksDB Get per request; bounded, cleared when full.
  std::unordered_map<uint64_t, SessionEntry> sessions_;
  static constexpr size_t kMaxCachedSessions = 1 << 16;
  int64_t lease_until_us_ = 0;
  int64_t promote_wait_until_us_ = 0;
  uint64_t active_term_ = 0;  // the epoch this replica was last promoted in
  uint64_t solo_request_id_ = 0;
  bool want_solo_ = false;
  bool peer_caught_up_ = false;
  uint64_t solo_watermark_ = 0;  // last seq acknowledged without the standby

  // Standby.
  uint64_t session_id_ = 0;
  uint64_t session_counter_ = 0;
  int64_t hello_sent_us_ = 0;
  int64_t last_from_active_us_ = 0;
  bool heard_this_round_ = false;  // a message of the active accepted since the last tick
  int64_t last_renewal_us_ = 0;    // when this replica last renewed an active's lease
  uint32_t chunks_installed_ = 0;
  // Received deltas are committed together, once per tick (group commit on the standby).
  std::vector<Delta> incoming_;
  bool ack_due_ = false;
  int64_t ack_echo_us_ = 0;
  bool caught_up_due_ = false;
  int64_t oldest_incoming_us_ = 0;
  std::vector<int64_t> lag_samples_us_;
  static constexpr int64_t kSweepEveryUs = 100 * 1000;
  static constexpr size_t kSweepEntries = 256;
  int64_t term_start_us_ = 0;  // when this replica last became active
  int64_t next_sweep_us_ = 0;
  uint64_t sweep_after_ = 0;                       // the session sweep resumes after this client id
  std::map<uint64_t, OpenDigest> open_digests_;    // by token, oldest first
  std::map<uint64_t, OpenDigest> marked_digests_;  // standby: by the seq the active marked
  uint64_t digest_tokens_ = 0;
  size_t lag_next_ = 0;
  // (answered at, latency) of the last kLagSamples answers as the active; the status reports
  // the p99 of those within kLatencyWindowUs, so it says how the replica does now.
  static constexpr int64_t kLatencyWindowUs = 500000;
  std::vector<std::pair<int64_t, int64_t>> latency_samples_us_;
  size_t latency_next_ = 0;
  std::string self_check_;  // the application's own check, run every heartbeat ("" = ok)
};

}  // namespace duplex
