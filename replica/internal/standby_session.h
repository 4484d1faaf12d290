// StandbySession: what the active keeps for the one standby that said hello in its term —
// where the standby's log ends, what was sent and acked, and its catch-up (a log tail read
// from the store, or a snapshot streamed in a window of chunks) until it follows the live
// stream. Everything sent to the standby goes through Send, in the standby's schema. Owned
// by ActiveTerm, which drops it when a method returns false; single-threaded.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "replica/internal/core_context.h"
#include "replica/internal/next_tick.h"

namespace duplex {

class StandbySession {
 public:
  // A log-tail catch-up sends at most this many batches (of tail_batch_ops deltas) per turn
  // of the event loop, so that requests, acks and heartbeats are served between them: a
  // whole window (lag_ops_max, 10,000 deltas) at once held the loop for tens of ms. The
  // loop turns again at once while TailPending(), so the catch-up keeps its pace.
  static constexpr int kTailBatchesPerTurn = 2;

  // Decides the catch-up: by log tail when our log still holds the standby's last entry and
  // it is from the same epoch as ours, else by snapshot.
  StandbySession(CoreContext& ctx, std::string route, const Hello& hello, int64_t now_us);

  // Each returns false when the session must end (the standby cannot read our state, our
  // log no longer reaches it, or its snapshot stalled); the owner then drops it.
  bool Send(PeerMessage message, int64_t now_us);
  // Live deltas, just committed or about to be.
  bool SendLive(const std::vector<Delta>& deltas, int64_t now_us);
  // Catch-up, resends after lost acks, and the heartbeat; once per tick.
  bool Stream(int64_t now_us);
  // The timers Stream keeps: the heartbeat, the resend after lost acks, a snapshot's pace.
  void AddTimers(NextTick& next) const;

  // An ack of this session that names only what we sent.
  bool Knows(const Ack& ack) const;
  void OnAck(const Ack& ack, int64_t now_us);

  DeltaBatch MakeBatch(std::vector<Delta> deltas, int64_t now_us) const;

  const std::string& replica() const { return replica_; }
  uint64_t session_id() const { return session_id_; }
  uint64_t acked_seq() const { return acked_seq_; }
  uint64_t next_send() const { return next_send_; }
  bool live() const { return live_; }
  // A log-tail catch-up has deltas to send and room for them in its window.
  bool TailPending() const;
  int64_t last_heard_us() const { return last_heard_us_; }
  uint64_t catchup_keys() const { return catchup_keys_; }
  uint64_t catchup_bytes() const { return catchup_bytes_; }

 private:
  bool SendSnapshotChunk(int64_t now_us);
  bool SendLogTail(int64_t now_us);
  StatusOr<std::vector<Mutation>> ConvertChunk(SnapshotChunk& chunk) const;

  CoreContext& ctx_;
  std::string route_;
  std::string replica_;
  uint32_t schema_ = 1;  // the standby's state schema: what we send is converted to it
  uint64_t session_id_ = 0;
  uint64_t acked_seq_ = 0;
  uint64_t next_send_ = 1;
  bool live_ = false;
  std::unique_ptr<SnapshotCursor> snapshot_;
  uint32_t chunks_sent_ = 0;
  uint32_t chunks_acked_ = 0;
  bool last_chunk_sent_ = false;
  uint64_t catchup_keys_ = 0, catchup_bytes_ = 0;  // snapshot entries sent (progress)
  int64_t last_heard_us_ = 0;
  int64_t last_sent_us_ = 0;
  int64_t progress_us_ = 0;  // when acked_seq_ last grew (or the session began)
};

}  // namespace duplex
