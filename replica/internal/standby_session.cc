#include "replica/internal/standby_session.h"

#include <spdlog/spdlog.h>

#include "common/assert.h"
#include "common/fatal.h"
#include "replica/internal/schema_conversion.h"

namespace duplex {

StandbySession::StandbySession(CoreContext& ctx, std::string route, const Hello& hello,
                               int64_t now_us)
    : ctx_(ctx),
      route_(std::move(route)),
      replica_(hello.replica),
      schema_(hello.schema),
      session_id_(hello.session_id),
      last_heard_us_(now_us) {
  DUPLEX_ASSERT(IsActive(ctx_.role()), "only an active keeps a standby session",
                RoleStatePath(ctx_.role()));
  DUPLEX_ASSERT(hello.epoch >= ctx_.epoch(), "a stale hello opens no session", hello.epoch,
                ctx_.epoch());
  const StoreMeta& meta = ctx_.store().meta();
  bool tail = false;
  if (!hello.needs_snapshot && hello.last_seq <= meta.applied_seq) {
    if (hello.last_seq + 1 >= meta.oldest_log_seq) {
      auto log_epoch = ctx_.store().LogEpochAt(hello.last_seq);
      tail = log_epoch.ok() &&
             ctx_.options().tail_resumes({hello.last_seq, hello.last_epoch, *log_epoch});
    }
  }
  if (tail) {
    acked_seq_ = hello.last_seq;
    next_send_ = hello.last_seq + 1;
    spdlog::info("standby {}: catch-up by log tail from {}", hello.replica, next_send_);
  } else {
    snapshot_ = ctx_.store().OpenSnapshot();
    DUPLEX_ASSERT(snapshot_->seq() == meta.applied_seq, "a snapshot opens at our applied seq",
                  snapshot_->seq(), meta.applied_seq);
    ++ctx_.counters().snapshots_sent;
    spdlog::info("standby {} (last {}:{}): catch-up by snapshot at {}", hello.replica,
                 hello.last_epoch, hello.last_seq, snapshot_->seq());
  }
}

DeltaBatch StandbySession::MakeBatch(std::vector<Delta> deltas, int64_t now_us) const {
  DeltaBatch b;
  b.epoch = ctx_.epoch();
  b.sent_us = now_us;
  b.deltas = std::move(deltas);
  b.session_id = session_id_;
  b.version = ctx_.processor().Version();
  b.caught_up = live_;
  return b;
}

StatusOr<std::vector<Mutation>> StandbySession::ConvertChunk(SnapshotChunk& chunk) const {
  // Only the application's entries have a schema; the others (sessions) go first.
  std::vector<Mutation> app;
  std::vector<Mutation> rest;
  for (auto& m : chunk.entries) (m.key.rfind(AppKey(""), 0) == 0 ? app : rest).push_back(m);
  for (auto& m : app) m.key.erase(0, AppKey("").size());
  auto out = ConvertEntries(ctx_.converters(), std::move(app), chunk.schema, schema_);
  if (!out.ok()) return out.status();
  for (auto& m : *out) rest.push_back({AppKey(m.key), m.value, false});
  return rest;
}

bool StandbySession::Send(PeerMessage message, int64_t now_us) {
  // Speak the standby's schema (it may run another version during an upgrade).
  Status converted = Status::Ok();
  if (auto* batch = std::get_if<DeltaBatch>(&message)) {
    DUPLEX_ASSERT(batch->session_id == session_id_ && batch->epoch == ctx_.epoch(),
                  "a batch is of this session and epoch", batch->session_id, session_id_,
                  batch->epoch, ctx_.epoch());
    auto deltas = ConvertDeltas(ctx_.converters(), std::move(batch->deltas), schema_);
    if (deltas.ok()) batch->deltas = std::move(deltas).value();
    converted = deltas.status();
  } else if (auto* chunk = std::get_if<SnapshotChunk>(&message)) {
    auto entries = ConvertChunk(*chunk);
    if (entries.ok()) {
      chunk->entries = std::move(entries).value();
      chunk->schema = schema_;
    }
    converted = entries.status();
  }
  if (!converted.ok()) {
    // The standby cannot read our state (e.g. a feature it lacks is in use): it stays out
    // of sync, which an upgrade campaign sees as a failed sync step.
    spdlog::error("standby {} (schema {}): {}; dropping the session", replica_, schema_,
                  converted.message());
    return false;
  }
  last_sent_us_ = now_us;
  ctx_.Emit(ToStandby{route_, std::move(message)});
  return true;
}

bool StandbySession::SendLive(const std::vector<Delta>& deltas, int64_t now_us) {
  DUPLEX_ASSERT(live_ && !snapshot_, "live deltas go to a standby that follows the stream");
  DUPLEX_ASSERT(!deltas.empty() && deltas.front().seq == next_send_,
                "live deltas continue what was sent", deltas.front().seq, next_send_);
  next_send_ = deltas.back().seq + 1;
  return Send(MakeBatch(deltas, now_us), now_us);
}

bool StandbySession::Knows(const Ack& ack) const {
  return ack.session_id == session_id_ && ack.applied_seq <= ctx_.last_seq() &&
         ack.snapshot_chunks <= chunks_sent_;
}

void StandbySession::OnAck(const Ack& ack, int64_t now_us) {
  DUPLEX_ASSERT(Knows(ack), "acks of other sessions were refused before", ack.session_id,
                session_id_);
  last_heard_us_ = now_us;
  if (ack.applied_seq > acked_seq_ || ack.snapshot_chunks > chunks_acked_) progress_us_ = now_us;
  acked_seq_ = std::max(acked_seq_, ack.applied_seq);
  chunks_acked_ = std::max(chunks_acked_, ack.snapshot_chunks);
  // An ack of deltas sent before a resend may acknowledge more than the resend reached:
  // the tail goes on after what the standby has.
  if (!snapshot_) next_send_ = std::max(next_send_, acked_seq_ + 1);
  DUPLEX_ASSERT(acked_seq_ <= ctx_.last_seq(), "nothing is acked beyond what we committed",
                acked_seq_, ctx_.last_seq());
  DUPLEX_ASSERT(chunks_acked_ <= chunks_sent_, "no chunk is acked before it is sent", chunks_acked_,
                chunks_sent_);
}

bool StandbySession::Stream(int64_t now_us) {
  DUPLEX_ASSERT(acked_seq_ <= ctx_.last_seq(), "acked", acked_seq_, "committed", ctx_.last_seq());
  DUPLEX_ASSERT(next_send_ <= ctx_.last_seq() + 1, "nothing is sent before it is committed",
                next_send_, ctx_.last_seq());
  DUPLEX_ASSERT(snapshot_ || next_send_ > acked_seq_, "the tail goes on after what was acked",
                next_send_, acked_seq_);
  DUPLEX_ASSERT(!live_ || (!snapshot_ && next_send_ == ctx_.last_seq() + 1),
                "a live standby was sent every committed delta", next_send_, ctx_.last_seq());
  if (progress_us_ == 0) progress_us_ = now_us;
  int64_t timeout_us = ctx_.options().ack_timeout_ms * 1000;
  if (live_ && acked_seq_ < ctx_.last_seq() && now_us - progress_us_ > timeout_us) {
    // Deltas sent but never acknowledged: lost on the way (a dropped connection), or their
    // acks were. The standby finds a gap only in a later delta, and there may be none:
    // send again from its last ack (it skips what it has).
    spdlog::info("standby {}: no ack beyond {} for {} ms; resending from there", replica_,
                 acked_seq_, ctx_.options().ack_timeout_ms);
    live_ = false;
    next_send_ = acked_seq_ + 1;
    progress_us_ = now_us;
  }
  if (snapshot_ && chunks_acked_ < chunks_sent_ && now_us - progress_us_ > timeout_us) {
    // A chunk (or its ack) was lost: the standby only notices a gap at a later chunk, and
    // the lost one may have been the last. End the session; its hello starts a new one.
    spdlog::info("standby {}: snapshot chunk acks stopped at {} of {}; ending the session",
                 replica_, chunks_acked_, chunks_sent_);
    ctx_.Emit(
        ToStandby{route_, Refusal{ctx_.epoch(), "snapshot stalled: start over", session_id_}});
    return false;
  }
  if (snapshot_) {
    if (!SendSnapshotChunk(now_us)) return false;
  } else if (!live_) {
    if (!SendLogTail(now_us)) return false;
  }
  if (now_us - last_sent_us_ >= ctx_.options().heartbeat_ms * 1000) {
    return Send(MakeBatch({}, now_us), now_us);  // heartbeat: renews the lease via the ack
  }
  return true;
}

bool StandbySession::TailPending() const {
  return !snapshot_ && !live_ && next_send_ <= ctx_.last_seq() &&
         next_send_ - acked_seq_ <= ctx_.options().lag_ops_max;
}

bool StandbySession::SendLogTail(int64_t now_us) {
  for (int batches = 0; batches < kTailBatchesPerTurn && TailPending(); ++batches) {
    const ReplicaOptions& o = ctx_.options();
    auto deltas = ctx_.store().ReadLog(next_send_, o.tail_batch_ops);
    if (!deltas.ok() || deltas->empty()) {
      // Truncated while we streamed. One snapshot per session keeps acks unambiguous:
      // drop the session; the standby's hello opens a new one that starts with a snapshot.
      spdlog::info("standby session {}: the log no longer reaches {}; dropping the session",
                   session_id_, next_send_);
      return false;
    }
    DUPLEX_ASSERT(deltas->front().seq == next_send_, "the log reads from where it was asked",
                  deltas->front().seq, next_send_);
    DUPLEX_ASSERT(deltas->back().seq <= ctx_.last_seq(), "the log holds only committed deltas",
                  deltas->back().seq, ctx_.last_seq());
    next_send_ = deltas->back().seq + 1;
    live_ = next_send_ > ctx_.last_seq();
    if (!Send(MakeBatch(std::move(deltas).value(), now_us), now_us)) return false;
  }
  live_ = next_send_ > ctx_.last_seq();
  return true;
}

bool StandbySession::SendSnapshotChunk(int64_t now_us) {
  // One chunk per turn of the loop: reading, converting and encoding a chunk takes tens of
  // ms on a large state, and the requests arriving meanwhile must not wait for a window's
  // worth of them (a full window at once held writes ~200 ms on a million keys).
  const ReplicaOptions& o = ctx_.options();
  if (!last_chunk_sent_ && chunks_sent_ - chunks_acked_ < o.snapshot_window_chunks) {
    auto entries = snapshot_->Next(o.snapshot_chunk_bytes);
    if (!entries.ok()) Fatal(entries.status());
    SnapshotChunk c;
    c.epoch = ctx_.epoch();
    c.session_id = session_id_;
    c.snapshot_epoch = snapshot_->epoch();
    c.snapshot_seq = snapshot_->seq();
    c.index = chunks_sent_++;
    c.last = snapshot_->done();
    c.entries = std::move(entries).value();
    catchup_keys_ += c.entries.size();
    for (const Mutation& m : c.entries) catchup_bytes_ += m.key.size() + m.value.size();
    c.schema = snapshot_->schema();
    c.sent_us = now_us;
    last_chunk_sent_ = c.last;
    if (!Send(std::move(c), now_us)) return false;
  }
  DUPLEX_ASSERT(chunks_sent_ - chunks_acked_ <= o.snapshot_window_chunks,
                "chunks in flight stay within the window", chunks_sent_, chunks_acked_);
  if (last_chunk_sent_ && chunks_acked_ == chunks_sent_) {
    // The standby installed the whole snapshot: it continues from the snapshot's seq.
    DUPLEX_ASSERT(snapshot_->seq() <= ctx_.last_seq(), "a snapshot is of our own history",
                  snapshot_->seq(), ctx_.last_seq());
    acked_seq_ = snapshot_->seq();
    next_send_ = acked_seq_ + 1;
    snapshot_.reset();
  }
  return true;
}

void StandbySession::AddTimers(NextTick& next) const {
  if (snapshot_ || !live_) return next.Soon();  // a catch-up keeps its pace
  const ReplicaOptions& o = ctx_.options();
  next.At(last_sent_us_ + int64_t{o.heartbeat_ms} * 1000);
  if (acked_seq_ < ctx_.last_seq()) next.After(progress_us_, int64_t{o.ack_timeout_ms} * 1000);
}

}  // namespace duplex
