// ActiveTerm: this replica's work while it is (or is becoming) the active — the request
// queue and its group commit, replies held until the standby acked them, the lease, the
// solo protocol with the coordinator, the standby session and the session table. Its state
// lives from one promotion to the next. Owned by ReplicaCore, which calls it only in the
// roles each method names; single-threaded.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "replica/internal/core_context.h"
#include "replica/internal/next_tick.h"
#include "replica/internal/ring_buffer.h"
#include "replica/internal/session_table.h"
#include "replica/internal/standby_session.h"

namespace duplex {

class OverlayReader;

class ActiveTerm {
 public:
  explicit ActiveTerm(CoreContext& ctx);

  // An assignment to be active that passed the stale check. False: refused (an active at an
  // epoch that is ours already, without a promotion).
  bool OnAssignment(const Assignment& a, int64_t now_us, int64_t last_renewal_us);
  // Promoting: once the old active's lease has run out, the term begins.
  void OnPromotingTick(int64_t now_us);
  // Active: answer what is acked, group-commit the queue, sweep sessions, stream.
  void OnTick(int64_t now_us);
  // The timers OnTick keeps while active (a term at rest waits for them, not for a tick).
  void AddTimers(NextTick& next) const;
  void OnFromStandby(const std::string& route, const PeerMessage& message, int64_t now_us);
  // A client request for an active that is not draining.
  void Enqueue(std::string route, Request request);
  // A request at a replica that may not serve it (not active, or without a lease): true
  // when the read rule (ReplicaOptions::unleased_reads) let it be answered, as a read, from
  // this replica's own state; false leaves the refusal to the caller.
  bool AnswerUnleasedRead(const std::string& route, const Request& request);
  // The term ends: what is queued or unacknowledged is answered with why.
  void End(const char* why);

  // Digest marks: a mark goes in the delta stream only to a standby that follows it live.
  bool StandbyFollowsLive() const;
  void SendDigestMark(uint64_t seq, int64_t now_us);

  bool Serving(int64_t now_us) const;
  // How long an active has been without a lease (0 while it holds one): nobody renews it,
  // so it hears neither its standby nor the coordinator, though they may hear it.
  int64_t LeaseLostUs(int64_t now_us) const;
  // How long a replicating active has heard nothing from its standby beyond the ack timeout
  // (0 when heard within it, or solo): with a standby that follows its stream, the acks are
  // cut one way.
  int64_t PeerSilentUs(int64_t now_us) const;
  // Requests to commit, or a catch-up with room in its window: the event loop turns again
  // at once (a catch-up sends a bounded part per turn, StandbySession::kTailBatchesPerTurn).
  bool HasWork() const {
    return (!queue_.empty() && !ctx_.assignment().hold) ||
           (IsActive(ctx_.role()) && standby_ && standby_->TailPending());
  }
  // Drained for a switchover: not serving, and the standby has everything.
  bool Demoted() const;
  void FillStatus(StatusReport& s) const;
  // The latest solo request of this term (0 before the first): the highest sync id the
  // coordinator can have processed from us.
  uint64_t solo_request_id() const { return solo_request_id_; }
  // The p99 of the answers of the last kLatencyWindowUs (0: none).
  uint64_t LatencyP99Us(int64_t now_us) const;

  static constexpr size_t kLatencySamples = 4096;

 private:
  struct PendingReply {
    uint64_t seq;
    int64_t since_us;
    std::string route;
    ClientReply reply;
  };
  // The group commit being built from the queue.
  struct Batch {
    uint64_t seq;  // the last seq the batch reaches
    std::vector<Delta> deltas;
    std::vector<PendingReply> replies;
    size_t answered = 0;  // replies sent at once (a read rule that does not wait)
  };

  void BeginTerm();
  bool SoloGranted() const;
  bool LagBoundReached() const;
  void FlushQueue(int64_t now_us);
  // A retry (or an older request) of a client, answered from its session. False: new.
  bool AnswerFromSession(const std::string& route, const Request& request, ClientReply& reply,
                         int64_t now_us, Batch& batch);
  void Execute(const std::string& route, const Request& request, ClientReply reply,
               OverlayReader& reader, int64_t now_us, Batch& batch);
  // Remembers (or forgets) the answer of a tracked request that changed nothing.
  void NoteUnchanged(const Request& request, const Outcome& outcome);
  // Sends deltas to a live standby and commits them.
  void Replicate(const std::vector<Delta>& deltas, int64_t now_us);
  void ExpireSessions(int64_t now_us);
  void ReleaseReplies(int64_t now_us);
  void CountAnswer(Code code, int64_t latency_us);
  void CheckStandbyProgress(int64_t now_us);
  void CheckSoloProgress(int64_t now_us);
  void StreamToStandby(int64_t now_us);
  void OnHello(const std::string& route, const Hello& hello, int64_t now_us);
  void OnAck(const Ack& ack, int64_t now_us);
  // The next solo request id; the step bound on the coordinator's sync id keeps it far from
  // wrapping.
  void NextSoloRequest();

  static constexpr int64_t kLatencyWindowUs = 500000;
  static constexpr size_t kUnchangedAnswersMax = 1 << 16;

  CoreContext& ctx_;
  SessionTable sessions_;
  // Each client's last tracked request that changed nothing (a read, a DEL of an absent key,
  // a refusal), with its answer: the session table keeps only answers that came with a
  // change, and a duplicate of such a request run again later could change something (the
  // DEL finding the key a write made meanwhile) after its client took the first answer. Kept
  // for this term only, in memory, bounded (cleared when full).
  std::unordered_map<uint64_t, std::pair<uint64_t, Response>> unchanged_answers_;
  std::optional<StandbySession> standby_;
  std::vector<std::pair<std::string, Request>> queue_;
  std::deque<PendingReply> pending_;
  int64_t lease_until_us_ = 0;
  int64_t promote_wait_until_us_ = 0;
  uint64_t term_epoch_ = 0;    // the epoch this replica was last promoted in
  int64_t term_begun_us_ = 0;  // when the current term began (no standby heard yet)
  uint64_t solo_request_id_ = 0;
  bool want_solo_ = false;
  bool peer_caught_up_ = false;
  uint64_t solo_watermark_ = 0;  // last seq acknowledged without the standby
  // (answered at, latency) of the last answers; the status reports the p99 of those within
  // kLatencyWindowUs, so it says how the replica does now.
  RingBuffer<std::pair<int64_t, int64_t>> latency_samples_us_{kLatencySamples};
};

}  // namespace duplex
