#include "replica/internal/standby_follower.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/assert.h"
#include "common/fatal.h"
#include "replica/internal/schema_conversion.h"

namespace duplex {

void StandbyFollower::SayHello(int64_t now_us) {
  DUPLEX_ASSERT(ctx_.role() == RoleState::kCatchingUp, "a hello opens a catch-up",
                RoleStatePath(ctx_.role()));
  // What arrived so far continues our history; a caught-up mark belongs to the old session.
  caught_up_due_ = false;
  CommitIncoming(now_us);
  DUPLEX_ASSERT(incoming_.empty(), "a new session starts from what is committed");
  digests_.ForgetMarks();  // marks of the old session may name another history's seqs
  // A fresh session id makes stale in-flight messages of the old session recognizable.
  session_id_ = (static_cast<uint64_t>(now_us) << 12) | (++session_counter_ & 0xfff);
  chunks_installed_ = 0;
  hello_sent_us_ = now_us;
  ctx_.Emit(ConnectActive{ctx_.assignment().peer_endpoint, ctx_.assignment().peer_name});
  const StoreMeta& meta = ctx_.store().meta();
  Hello h;
  h.replica = ctx_.options().name;
  h.epoch = meta.epoch;
  h.last_epoch = meta.applied_epoch;
  h.last_seq = meta.applied_seq;
  h.version = ctx_.processor().Version();
  h.schema = ctx_.processor().Schema();
  h.session_id = session_id_;
  h.needs_snapshot = meta.snapshot_incomplete || needs_resync_;
  DUPLEX_ASSERT(h.last_epoch <= h.epoch, "our last delta is of an epoch we adopted", h.last_epoch,
                h.epoch);
  ctx_.Emit(ToActive{std::move(h)});
}

void StandbyFollower::Resync(int64_t now_us) {
  DUPLEX_ASSERT(IsStandby(ctx_.role()), "only a standby resyncs", RoleStatePath(ctx_.role()));
  // Leaving InSync re-enters CatchingUp, which says hello; otherwise say it here.
  if (ctx_.role() == RoleState::kInSync) {
    ctx_.machine().FellBehind();
  } else {
    SayHello(now_us);
  }
}

void StandbyFollower::OnTick(int64_t now_us) {
  DUPLEX_ASSERT(IsStandby(ctx_.role()), RoleStatePath(ctx_.role()));
  // What arrived in this round was heard now, at its end: installing a snapshot chunk can
  // take longer than the quiet timeout (30-130 ms each on a million keys), and measured
  // from the round's start that time passed for silence and restarted the snapshot.
  if (heard_this_round_) last_from_active_us_ = std::max(last_from_active_us_, now_us);
  heard_this_round_ = false;
  const ReplicaOptions& o = ctx_.options();
  int64_t quiet_us = now_us - std::max(last_from_active_us_, hello_sent_us_);
  if (quiet_us > std::max(o.ack_timeout_ms, 5 * o.heartbeat_ms) * 1000) {
    Resync(now_us);  // the active is gone or the session was lost: start again
  }
}

void StandbyFollower::OnFromActive(const PeerMessage& message, int64_t now_us) {
  DUPLEX_ASSERT(IsStandby(ctx_.role()), RoleStatePath(ctx_.role()));
  if (auto* batch = std::get_if<DeltaBatch>(&message)) {
    OnDeltaBatch(*batch, now_us);
  } else if (auto* chunk = std::get_if<SnapshotChunk>(&message)) {
    OnSnapshotChunk(*chunk, now_us);
  } else if (auto* refusal = std::get_if<Refusal>(&message)) {
    if (refusal->session_id == session_id_) {
      spdlog::info("active refused session: {}", refusal->reason);
      ctx_.machine().FellBehind();  // hello again after the quiet timeout
    }
  } else {
    ctx_.Refuse("hellos and acks only flow to the active");
  }
}

bool StandbyFollower::AcceptFromActive(uint64_t msg_epoch, uint64_t session_id) {
  if (msg_epoch < ctx_.epoch()) {
    ++ctx_.counters().stale_epoch_frames;
    ctx_.Emit(ToActive{Refusal{ctx_.epoch(),
                               "stale epoch " + std::to_string(msg_epoch) + " (mine is " +
                                   std::to_string(ctx_.epoch()) + ")",
                               session_id}});
    return false;
  }
  if (session_id != session_id_) {
    ctx_.Refuse("a message of an older session");  // still in flight, harmless
    return false;
  }
  if (!ctx_.PeerEpochWithinStep(msg_epoch, "deltas or chunk from the active")) return false;
  if (msg_epoch > ctx_.epoch()) ctx_.Adopt(msg_epoch);  // the active was promoted after our hello
  DUPLEX_ASSERT(msg_epoch == ctx_.epoch(), "we follow the active's epoch", msg_epoch, ctx_.epoch());
  heard_this_round_ = true;
  return true;
}

bool StandbyFollower::FollowsActive(int64_t now_us) const {
  return last_from_active_us_ != 0 &&
         now_us - last_from_active_us_ < int64_t{ctx_.options().ack_timeout_ms} * 1000;
}

void StandbyFollower::AckActive(int64_t echo_us, int64_t now_us) {
  DUPLEX_ASSERT(IsStandby(ctx_.role()), "only a standby acks", RoleStatePath(ctx_.role()));
  last_from_active_us_ = now_us;
  last_renewal_us_ = now_us;
  ctx_.Emit(ToActive{Ack{ctx_.epoch(), ctx_.last_seq(), echo_us, session_id_, ctx_.options().name,
                         chunks_installed_}});
}

void StandbyFollower::OnDeltaBatch(const DeltaBatch& batch, int64_t now_us) {
  if (!AcceptFromActive(batch.epoch, batch.session_id)) return;
  if (ctx_.store().meta().snapshot_incomplete) {
    ctx_.Refuse("deltas cannot apply to a half-installed snapshot");
    return;
  }
  if (batch.digest_at) OnDigestMark(*batch.digest_at, now_us);
  uint64_t expect = reached_seq() + 1;
  for (const Delta& d : batch.deltas) {
    if (d.seq < expect) {
      ++ctx_.counters().duplicates;
      continue;
    }
    if (!Apply(d, batch, expect, now_us)) return;
    ++expect;
    DUPLEX_ASSERT(expect == reached_seq() + 1, "received deltas are consecutive", expect,
                  reached_seq());
  }
  // Acked once committed, at the end of this round of messages.
  ack_due_ = true;
  ack_echo_us_ = std::max(ack_echo_us_, batch.sent_us);
  caught_up_due_ = caught_up_due_ || batch.caught_up;
}

bool StandbyFollower::Apply(const Delta& d, const DeltaBatch& batch, uint64_t expect,
                            int64_t now_us) {
  if (d.seq != expect || d.epoch > batch.epoch) {
    ++ctx_.counters().gaps;
    spdlog::warn("gap: got delta {} (epoch {}), expected {}; resyncing", d.seq, d.epoch, expect);
    Resync(now_us);
    return false;
  }
  auto same_schema = ConvertDeltas(ctx_.converters(), {d}, ctx_.processor().Schema());
  if (!same_schema.ok()) {
    ctx_.Refuse("delta in schema " + std::to_string(d.schema) + ": " +
                same_schema.status().message());
    Resync(now_us);
    return false;
  }
  auto mutations = ctx_.processor().ApplyDelta(same_schema->front());
  if (!mutations.ok()) {
    ctx_.Refuse("delta " + std::to_string(d.seq) +
                " refused by the processor: " + mutations.status().ToString());
    Resync(now_us);
    return false;
  }
  Delta applied = std::move(same_schema->front());
  applied.mutations = std::move(mutations).value();
  DUPLEX_ASSERT(applied.seq == expect && applied.epoch <= ctx_.epoch(),
                "an applied delta continues our history in an epoch we know", applied.seq, expect,
                applied.epoch, ctx_.epoch());
  if (incoming_.empty()) oldest_incoming_us_ = batch.sent_us;
  incoming_.push_back(std::move(applied));
  return true;
}

void StandbyFollower::OnDigestMark(uint64_t seq, int64_t now_us) {
  // The active opened a digest snapshot at seq and sent this mark after every delta up to
  // seq: ours at the same seq is the same state, if we are exactly there. If not (a gap, a
  // resync on its way), "_digest_at" says so and the comparison is tried again.
  if (reached_seq() != seq) {
    spdlog::info("digest mark at seq {} missed: at {}", seq, reached_seq());
    return;
  }
  CommitIncoming(now_us);
  digests_.OpenMarked(seq);
}

void StandbyFollower::CommitIncoming(int64_t now_us) {
  if (!incoming_.empty()) {
    DUPLEX_ASSERT(incoming_.front().seq == ctx_.last_seq() + 1,
                  "received deltas continue what is committed", incoming_.front().seq,
                  ctx_.last_seq());
    ctx_.Commit(incoming_);
    incoming_.clear();
    lag_samples_us_.Push(now_us - oldest_incoming_us_);
    ctx_.counters().standby_commit_lag.Observe(now_us - oldest_incoming_us_);
  }
  if (ack_due_ && IsStandby(ctx_.role())) AckActive(ack_echo_us_, now_us);
  if (caught_up_due_ && ctx_.role() == RoleState::kCatchingUp) ctx_.machine().CaughtUp();
  ack_due_ = false;
  ack_echo_us_ = 0;
  caught_up_due_ = false;
}

void StandbyFollower::Leave(int64_t now_us) {
  DUPLEX_ASSERT(!IsStandby(ctx_.role()), RoleStatePath(ctx_.role()));
  caught_up_due_ = false;
  CommitIncoming(now_us);  // deltas received as a standby stay part of the history
}

void StandbyFollower::OnSnapshotChunk(const SnapshotChunk& chunk, int64_t now_us) {
  if (!AcceptFromActive(chunk.epoch, chunk.session_id)) return;
  CommitIncoming(now_us);
  if (chunk.index != chunks_installed_) {
    ++ctx_.counters().gaps;
    Resync(now_us);
    return;
  }
  if (chunk.snapshot_epoch > chunk.epoch) {
    // Installed, it would be our last delta's epoch: above the epoch we adopted.
    ctx_.Refuse("snapshot chunk of epoch " + std::to_string(chunk.snapshot_epoch) +
                " sent in epoch " + std::to_string(chunk.epoch));
    Resync(now_us);
    return;
  }
  if (chunk.schema != ctx_.processor().Schema()) {
    // The active converts for us (it learned our schema at hello); anything else is broken.
    ctx_.Refuse("snapshot chunk in schema " + std::to_string(chunk.schema) + ", ours is " +
                std::to_string(ctx_.processor().Schema()));
    Resync(now_us);
    return;
  }
  Store& store = ctx_.store();
  Status s = chunk.index == 0 ? store.BeginSnapshotInstall() : Status::Ok();
  if (s.ok()) s = store.InstallChunk(chunk.entries);
  if (s.code() == Code::kCorruption) {
    ctx_.Refuse("snapshot chunk: " + s.message());  // hostile or broken: start over
    Resync(now_us);
    return;
  }
  if (!s.ok()) Fatal(s);
  DUPLEX_ASSERT(store.meta().snapshot_incomplete, "an install is under way until its last chunk");
  ++chunks_installed_;
  if (chunk.last) {
    s = store.FinishSnapshotInstall(chunk.snapshot_epoch, chunk.snapshot_seq, chunk.schema);
    if (!s.ok()) Fatal(s);
    DUPLEX_ASSERT(ctx_.last_seq() == chunk.snapshot_seq && !store.meta().snapshot_incomplete,
                  "an installed snapshot is our state at its seq", ctx_.last_seq(),
                  chunk.snapshot_seq);
    ++ctx_.counters().snapshots_installed;
    needs_resync_ = false;
    ctx_.processor().OnRestored();
    spdlog::info("snapshot installed at {}:{} ({} chunks)", chunk.snapshot_epoch,
                 chunk.snapshot_seq, chunks_installed_);
  }
  AckActive(chunk.sent_us, now_us);
}

void StandbyFollower::AddTimers(NextTick& next) const {
  if (!incoming_.empty() || ack_due_ || caught_up_due_) return next.Soon();
  const ReplicaOptions& o = ctx_.options();
  next.After(std::max(last_from_active_us_, hello_sent_us_),
             int64_t{std::max(o.ack_timeout_ms, 5 * o.heartbeat_ms)} * 1000);
}

}  // namespace duplex
