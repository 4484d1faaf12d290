// The standby side of ReplicaCore: hello, catch-up by log tail or snapshot,
// live deltas, acks. Gaps and duplicates are detected and never applied.
#include <spdlog/spdlog.h>

#include "replica/replica_core.h"

namespace duplex {

void ReplicaCore::SayHello(int64_t now_us) {
  // What arrived so far continues our history; a caught-up mark belongs to the old session.
  caught_up_due_ = false;
  CommitIncoming(now_us);
  marked_digests_.clear();  // marks of the old session may name another history's seqs
  // A fresh session id makes stale in-flight messages of the old session recognizable.
  session_id_ = (static_cast<uint64_t>(now_us) << 12) | (++session_counter_ & 0xfff);
  chunks_installed_ = 0;
  hello_sent_us_ = now_us;
  Emit(ConnectActive{assignment_.peer_endpoint});
  const StoreMeta& meta = store_->meta();
  Hello h;
  h.replica = options_.name;
  h.epoch = meta.epoch;
  h.last_epoch = meta.applied_epoch;
  h.last_seq = meta.applied_seq;
  h.version = processor_->Version();
  h.schema = processor_->Schema();
  h.session_id = session_id_;
  h.needs_snapshot = meta.snapshot_incomplete || needs_resync_;
  Emit(ToActive{std::move(h)});
}

void ReplicaCore::Resync(int64_t now_us) {
  // Leaving InSync re-enters CatchingUp, which says hello; otherwise say it here.
  if (role() == RoleState::kInSync) {
    machine_.FellBehind();
  } else {
    SayHello(now_us);
  }
}

void ReplicaCore::OnFromActive(PeerMessage message, int64_t now_us) {
  now_us_ = now_us;
  if (!IsStandby(role())) {
    Refuse("a message for the standby while " + std::string(RoleStatePath(role())));
    return;
  }
  if (auto* batch = std::get_if<DeltaBatch>(&message)) {
    OnDeltaBatch(*batch, now_us);
  } else if (auto* chunk = std::get_if<SnapshotChunk>(&message)) {
    OnSnapshotChunk(*chunk, now_us);
  } else if (auto* refusal = std::get_if<Refusal>(&message)) {
    if (refusal->session_id == session_id_) {
      spdlog::info("active refused session: {}", refusal->reason);
      machine_.FellBehind();  // hello again after the quiet timeout
    }
  } else {
    Refuse("hellos and acks only flow to the active");
  }
}

bool ReplicaCore::AcceptFromActive(uint64_t msg_epoch, uint64_t session_id) {
  if (msg_epoch < epoch()) {
    ++counters_.stale_epoch_frames;
    Emit(ToActive{Refusal{
        epoch(),
        "stale epoch " + std::to_string(msg_epoch) + " (mine is " + std::to_string(epoch()) + ")",
        session_id}});
    return false;
  }
  if (session_id != session_id_) {
    Refuse("a message of an older session");  // still in flight, harmless
    return false;
  }
  if (msg_epoch > epoch()) Adopt(msg_epoch);  // the active was promoted after our hello
  heard_this_round_ = true;
  return true;
}

void ReplicaCore::AckActive(int64_t echo_us, int64_t now_us) {
  last_from_active_us_ = now_us;
  last_renewal_us_ = now_us;
  Emit(ToActive{Ack{epoch(), store_->meta().applied_seq, echo_us, session_id_, options_.name,
                    chunks_installed_}});
}

void ReplicaCore::OnDeltaBatch(const DeltaBatch& batch, int64_t now_us) {
  if (!AcceptFromActive(batch.epoch, batch.session_id)) return;
  if (store_->meta().snapshot_incomplete) {
    Refuse("deltas cannot apply to a half-installed snapshot");
    return;
  }
  if (batch.digest_at) OnDigestMark(*batch.digest_at, now_us);
  uint64_t expect = store_->meta().applied_seq + incoming_.size() + 1;
  for (const Delta& d : batch.deltas) {
    if (d.seq < expect) {
      ++counters_.duplicates;
      continue;
    }
    if (d.seq != expect || d.epoch > batch.epoch) {
      ++counters_.gaps;
      spdlog::warn("gap: got delta {} (epoch {}), expected {}; resyncing", d.seq, d.epoch, expect);
      Resync(now_us);
      return;
    }
    auto same_schema = ConvertDeltas({d}, processor_->Schema());
    if (!same_schema.ok()) {
      Refuse("delta in schema " + std::to_string(d.schema) + ": " + same_schema.status().message());
      Resync(now_us);
      return;
    }
    auto mutations = processor_->ApplyDelta(same_schema->front());
    if (!mutations.ok()) {
      Refuse("delta " + std::to_string(d.seq) +
             " refused by the processor: " + mutations.status().ToString());
      Resync(now_us);
      return;
    }
    Delta applied = std::move(same_schema->front());
    applied.mutations = std::move(mutations).value();
    if (incoming_.empty()) oldest_incoming_us_ = batch.sent_us;
    incoming_.push_back(std::move(applied));
    ++expect;
  }
  // Acked once committed, at the end of this round of messages.
  ack_due_ = true;
  ack_echo_us_ = std::max(ack_echo_us_, batch.sent_us);
  caught_up_due_ = caught_up_due_ || batch.caught_up;
}

void ReplicaCore::OnDigestMark(uint64_t seq, int64_t now_us) {
  // The active opened a digest snapshot at seq and sent this mark after every delta up to
  // seq: ours at the same seq is the same state, if we are exactly there. If not (a gap, a
  // resync on its way), "_digest_at" says so and the comparison is tried again.
  if (store_->meta().applied_seq + incoming_.size() != seq) {
    spdlog::info("digest mark at seq {} missed: at {}", seq,
                 store_->meta().applied_seq + incoming_.size());
    return;
  }
  CommitIncoming(now_us);
  marked_digests_[seq] = OpenDigest{store_->OpenSnapshot(), store_->meta().schema, 0};
  while (marked_digests_.size() > kMaxOpenDigests) marked_digests_.erase(marked_digests_.begin());
}

void ReplicaCore::CommitIncoming(int64_t now_us) {
  if (!incoming_.empty()) {
    Commit(incoming_);
    incoming_.clear();
    int64_t lag_us = now_us - oldest_incoming_us_;
    if (lag_samples_us_.size() < kLagSamples) {
      lag_samples_us_.push_back(lag_us);
    } else {
      lag_samples_us_[lag_next_++ % kLagSamples] = lag_us;
    }
  }
  if (ack_due_ && IsStandby(role())) AckActive(ack_echo_us_, now_us);
  if (caught_up_due_ && role() == RoleState::kCatchingUp) machine_.CaughtUp();
  ack_due_ = false;
  ack_echo_us_ = 0;
  caught_up_due_ = false;
}

void ReplicaCore::OnSnapshotChunk(const SnapshotChunk& chunk, int64_t now_us) {
  if (!AcceptFromActive(chunk.epoch, chunk.session_id)) return;
  CommitIncoming(now_us);
  if (chunk.index != chunks_installed_) {
    ++counters_.gaps;
    Resync(now_us);
    return;
  }
  if (chunk.schema != processor_->Schema()) {
    // The active converts for us (it learned our schema at hello); anything else is broken.
    Refuse("snapshot chunk in schema " + std::to_string(chunk.schema) + ", ours is " +
           std::to_string(processor_->Schema()));
    Resync(now_us);
    return;
  }
  Status s = chunk.index == 0 ? store_->BeginSnapshotInstall() : Status::Ok();
  if (s.ok()) s = store_->InstallChunk(chunk.entries);
  if (s.code() == Code::kCorruption) {
    Refuse("snapshot chunk: " + s.message());  // hostile or broken: start over
    Resync(now_us);
    return;
  }
  if (!s.ok()) Fatal(s);
  ++chunks_installed_;
  if (chunk.last) {
    s = store_->FinishSnapshotInstall(chunk.snapshot_epoch, chunk.snapshot_seq, chunk.schema);
    if (!s.ok()) Fatal(s);
    ++counters_.snapshots_installed;
    needs_resync_ = false;
    processor_->OnRestored();
    spdlog::info("snapshot installed at {}:{} ({} chunks)", chunk.snapshot_epoch,
                 chunk.snapshot_seq, chunks_installed_);
  }
  AckActive(chunk.sent_us, now_us);
}

}  // namespace duplex
