// StandbyFollower: this replica's work while it is a standby — the hello that opens a
// session with the active, catch-up by log tail or snapshot chunks, live deltas applied
// and group-committed once per tick, acks that renew the active's lease, and the quiet
// timeout that starts over. Gaps and duplicates are detected and never applied. Owned by
// ReplicaCore; single-threaded.
#pragma once

#include <cstdint>
#include <vector>

#include "replica/internal/core_context.h"
#include "replica/internal/digest_service.h"
#include "replica/internal/next_tick.h"
#include "replica/internal/ring_buffer.h"

namespace duplex {

class StandbyFollower {
 public:
  StandbyFollower(CoreContext& ctx, DigestService& digests) : ctx_(ctx), digests_(digests) {}

  // CatchingUp entered: a new session with the active.
  void SayHello(int64_t now_us);
  // Standby: a message of the active.
  void OnFromActive(const PeerMessage& message, int64_t now_us);
  // Standby: starts over when the active has been quiet too long.
  void OnTick(int64_t now_us);
  // The timers OnTick keeps while a standby: the quiet timeout.
  void AddTimers(NextTick& next) const;
  // Commits what arrived this round, acks it, and reports a catch-up finished.
  void CommitIncoming(int64_t now_us);
  // The replica stops being a standby: what was received stays part of the history.
  void Leave(int64_t now_us);

  // How far this replica has applied, counting received deltas not committed yet.
  uint64_t reached_seq() const { return ctx_.last_seq() + incoming_.size(); }
  int64_t last_renewal_us() const { return last_renewal_us_; }
  // It heard its active (and acked it) within the ack timeout: the active's stream reaches
  // it, whatever becomes of its acks.
  bool FollowsActive(int64_t now_us) const;
  bool needs_resync() const { return needs_resync_; }
  // The stored state is in another schema than ours: a full resync before serving.
  void NeedResync() { needs_resync_ = true; }
  const std::vector<int64_t>& lag_samples_us() const { return lag_samples_us_.values(); }

  static constexpr size_t kLagSamples = 4096;

 private:
  void Resync(int64_t now_us);
  void OnDeltaBatch(const DeltaBatch& batch, int64_t now_us);
  // Applies one delta of the live stream; false: it cannot be, and a resync began.
  bool Apply(const Delta& d, const DeltaBatch& batch, uint64_t expect, int64_t now_us);
  void OnSnapshotChunk(const SnapshotChunk& chunk, int64_t now_us);
  void OnDigestMark(uint64_t seq, int64_t now_us);
  bool AcceptFromActive(uint64_t epoch, uint64_t session_id);
  void AckActive(int64_t echo_us, int64_t now_us);

  CoreContext& ctx_;
  DigestService& digests_;
  bool needs_resync_ = false;
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
  // How long the newest deltas took from the active's send to our commit, per commit.
  RingBuffer<int64_t> lag_samples_us_{kLagSamples};
};

}  // namespace duplex
