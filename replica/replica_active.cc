// The active side of ReplicaCore: group commit, acknowledgement gating, the
// standby session (log tail or snapshot, then live deltas) and the solo protocol.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <unordered_map>

#include "replica/replica_core.h"

namespace duplex {
namespace {

// Reads through the mutations of the group commit being built.
class OverlayReader final : public StateReader {
 public:
  explicit OverlayReader(const Store* store) : store_(store) {}
  StatusOr<std::optional<std::string>> Get(std::string_view key) const override {
    auto it = overlay_.find(std::string(key));
    if (it != overlay_.end()) return it->second;
    return store_->Get(key);
  }
  void Apply(const std::vector<Mutation>& mutations) {
    for (const Mutation& m : mutations) {
      overlay_[m.key] = m.erase ? std::nullopt : std::optional<std::string>(m.value);
    }
  }

 private:
  const Store* store_;
  std::unordered_map<std::string, std::optional<std::string>> overlay_;
};

}  // namespace

void ReplicaCore::BeginActiveTerm() {
  // A new term: the standby must say hello again; the coordinator recorded it out of
  // sync when it promoted this replica (solo request 0 of the epoch).
  standby_.reset();
  pending_.clear();
  sessions_.clear();  // another replica wrote sessions meanwhile
  term_start_us_ = now_us_;
  // 0 in a new epoch. A process restarted into the epoch it was active in continues above
  // the coordinator's record, which would otherwise take its requests for processed ones.
  solo_request_id_ = assignment_.sync_id;
  want_solo_ = false;
  peer_caught_up_ = false;
  solo_watermark_ = 0;
}

void ReplicaCore::FlushQueue(int64_t now_us) {
  if (queue_.empty()) return;
  if (now_us >= lease_until_us_) {
    // Without a lease another replica may already be active: serve nothing.
    for (auto& [route, request] : queue_) {
      Reply(route, request, {Code::kUnavailable, "active without a lease", ""});
    }
    queue_.clear();
    return;
  }
  if (options_.async && standby_ && last_seq() - standby_->acked_seq >= options_.max_lag_ops) {
    return;  // async lag bound: writes wait for the standby
  }
  if (assignment_.hold) return;  // a digest comparison: requests wait, nothing is committed
  size_t n = std::min<size_t>(queue_.size(), options_.max_batch_ops);
  OverlayReader reader(store_);
  if (sessions_.size() + n > kMaxCachedSessions) sessions_.clear();
  std::vector<Delta> deltas;
  std::vector<PendingReply> replies;
  uint64_t seq = last_seq();
  for (size_t i = 0; i < n; ++i) {
    auto& [route, request] = queue_[i];
    ClientReply reply{request.client_id, request.request_seq, {}, epoch(), options_.endpoint};
    bool tracked = request.client_id != 0 && request.request_seq != 0;
    if (tracked) {
      std::optional<SessionEntry> last;
      if (auto it = sessions_.find(request.client_id); it != sessions_.end()) {
        last = it->second;
      } else if (auto stored = store_->GetSession(request.client_id); stored.ok()) {
        last = *stored;
        if (last) sessions_[request.client_id] = *last;
      } else {
        Fatal(stored.status());
      }
      if (last && request.request_seq <= last->request_seq) {
        if (request.request_seq == last->request_seq) {
          reply.response = {static_cast<Code>(last->code), last->message, last->value};
          if (options_.session_expiry_ms > 0 &&
              SessionAgeUs(*last, now_us) > options_.session_expiry_ms * 1000 / 2) {
            // A client still retrying is not idle: its session is dated again (through the
            // log, as every change of the table), at most once per half expiry period.
            Delta d;
            d.epoch = epoch();
            d.seq = ++seq;
            d.schema = processor_->Schema();
            d.client_id = request.client_id;
            d.session = *last;
            d.session.used_epoch = epoch();
            d.session.used_ms = now_us / 1000;
            sessions_[request.client_id] = d.session;
            deltas.push_back(std::move(d));
          }
        } else {
          reply.response = {Code::kFailedPrecondition,
                            "request " + std::to_string(request.request_seq) +
                                " is older than the last one of this client (" +
                                std::to_string(last->request_seq) + ")",
                            ""};
        }
        // The remembered answer may itself still be replicating: wait for everything so far.
        replies.push_back({seq, now_us, route, std::move(reply)});
        continue;
      }
    }
    Outcome outcome = processor_->Execute(request, reader, features_);
    reply.response = outcome.response;
    if (!outcome.mutations.empty()) {
      Delta d;
      d.epoch = epoch();
      d.seq = ++seq;
      d.schema = processor_->Schema();
      d.mutations = std::move(outcome.mutations);
      if (tracked) {
        d.client_id = request.client_id;
        d.session = {request.request_seq,
                     static_cast<uint16_t>(outcome.response.code),
                     outcome.response.message,
                     outcome.response.value,
                     epoch(),
                     now_us / 1000};
        sessions_[request.client_id] = d.session;  // a failed append is fatal: no rollback
      }
      reader.Apply(d.mutations);
      deltas.push_back(std::move(d));
    }
    // Reads and refusals wait for everything before them, so nothing unreplicated is seen.
    replies.push_back({seq, now_us, route, std::move(reply)});
  }
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<long>(n));
  Replicate(deltas, now_us);
  for (auto& r : replies) pending_.push_back(std::move(r));
}

void ReplicaCore::Replicate(const std::vector<Delta>& deltas, int64_t now_us) {
  if (deltas.empty()) return;
  // Send first: the standby's fsync then runs while ours does. A standby holding a
  // delta its active lost in a crash is harmless: nobody acknowledged it yet.
  if (standby_ && standby_->live) {
    standby_->next_send = deltas.back().seq + 1;
    SendToStandby(MakeBatch(deltas, now_us), now_us);
  }
  Commit(deltas);
}

int64_t ReplicaCore::SessionAgeUs(const SessionEntry& entry, int64_t now_us) const {
  // Only the active's own clock can date an entry, and only since its term started: an
  // entry of an older epoch, or of this one written before this process restarted into it,
  // is dated no earlier than the term's start. Its client may have been retrying all along
  // while no replica served; nothing expires before it really was idle that long.
  int64_t own_us = entry.used_epoch == epoch() ? entry.used_ms * 1000 : 0;
  return now_us - std::max(own_us, term_start_us_);
}

void ReplicaCore::ExpireSessions(int64_t now_us) {
  // A few entries per sweep, resuming after the last one read: the table is scanned
  // round and round, and the expired entries are erased through the log (deltas without
  // mutations whose session entry has request seq 0), so the standby erases them too.
  if (options_.session_expiry_ms <= 0 || now_us < next_sweep_us_ || !Serving(now_us) ||
      assignment_.hold) {
    return;
  }
  if (options_.async && standby_ && last_seq() - standby_->acked_seq >= options_.max_lag_ops) {
    return;
  }
  next_sweep_us_ = now_us + kSweepEveryUs;
  auto entries = store_->ListSessions(sweep_after_, kSweepEntries);
  if (!entries.ok()) return Fatal(entries.status());
  sweep_after_ = entries->size() < kSweepEntries ? 0 : entries->back().first;
  std::vector<Delta> erase;
  for (const auto& [client_id, entry] : *entries) {
    if (SessionAgeUs(entry, now_us) <= options_.session_expiry_ms * 1000) continue;
    Delta d;
    d.epoch = epoch();
    d.seq = last_seq() + erase.size() + 1;
    d.schema = processor_->Schema();
    d.client_id = client_id;
    erase.push_back(std::move(d));
    sessions_.erase(client_id);
  }
  counters_.sessions_expired += erase.size();
  Replicate(erase, now_us);
}

void ReplicaCore::ReleaseReplies(int64_t now_us) {
  (void)now_us;
  uint64_t upto = last_seq();
  if (!options_.async && role() == RoleState::kReplicating) {
    upto = standby_ ? standby_->acked_seq : 0;
  }
  while (!pending_.empty() && pending_.front().seq <= upto) {
    PendingReply& p = pending_.front();
    CountAnswer(p.reply.response.code, now_us - p.since_us);
    Emit(ToClient{p.route, std::move(p.reply)});
    pending_.pop_front();
  }
}

void ReplicaCore::CountAnswer(Code code, int64_t latency_us) {
  ++counters_.requests_answered;
  if (code == Code::kUnavailable || code == Code::kIOError || code == Code::kInternal ||
      code == Code::kCorruption) {
    ++counters_.server_errors;
  }
  std::pair<int64_t, int64_t> sample{now_us_, latency_us};
  if (latency_samples_us_.size() < kLagSamples) {
    latency_samples_us_.push_back(sample);
  } else {
    latency_samples_us_[latency_next_++ % kLagSamples] = sample;
  }
}

void ReplicaCore::CheckStandbyProgress(int64_t now_us) {
  int64_t timeout_us = options_.ack_timeout_ms * 1000;
  if (role() == RoleState::kSolo) {
    if (standby_ && (assignment_.standby_out || now_us - standby_->last_heard_us > timeout_us)) {
      standby_.reset();  // gone; it says hello again when it comes back
      return;
    }
    // The standby follows the live stream closely: from now on acks wait for it again.
    // It is reported in sync once it has everything acknowledged while solo.
    if (standby_ && standby_->live && last_seq() - standby_->acked_seq <= options_.max_batch_ops) {
      ++solo_request_id_;  // the solo grant is given up
      want_solo_ = false;
      peer_caught_up_ = false;
      solo_watermark_ = last_seq();
      machine_.PeerInSync();
    }
    return;
  }
  if (!peer_caught_up_ && !want_solo_ && standby_ && standby_->acked_seq >= solo_watermark_ &&
      solo_request_id_ > 0) {
    peer_caught_up_ = true;
    SendStatus();
  }
  if (options_.async || want_solo_) return;
  bool stuck = !pending_.empty() && pending_.front().seq > (standby_ ? standby_->acked_seq : 0) &&
               now_us - pending_.front().since_us > timeout_us;
  bool silent =
      !standby_ || assignment_.standby_out || now_us - standby_->last_heard_us > timeout_us;
  if (stuck || silent) {
    // Ask the coordinator to record the standby out of sync; acks wait for its answer.
    ++solo_request_id_;
    want_solo_ = true;
    peer_caught_up_ = false;
    spdlog::info("standby {}: asking to go solo (request {})", stuck ? "lagging" : "silent",
                 solo_request_id_);
    SendStatus();
  }
}

DeltaBatch ReplicaCore::MakeBatch(std::vector<Delta> deltas, int64_t now_us) const {
  DeltaBatch b;
  b.epoch = epoch();
  b.sent_us = now_us;
  b.deltas = std::move(deltas);
  b.session_id = standby_ ? standby_->session_id : 0;
  b.version = processor_->Version();
  b.caught_up = standby_ && standby_->live;
  return b;
}

bool ReplicaCore::SendToStandby(PeerMessage message, int64_t now_us) {
  // Speak the standby's schema (it may run another version during an upgrade).
  Status converted = Status::Ok();
  if (auto* batch = std::get_if<DeltaBatch>(&message)) {
    auto deltas = ConvertDeltas(std::move(batch->deltas), standby_->schema);
    if (deltas.ok()) batch->deltas = std::move(deltas).value();
    converted = deltas.status();
  } else if (auto* chunk = std::get_if<SnapshotChunk>(&message)) {
    std::vector<Mutation> app;  // only the application's entries have a schema
    std::vector<Mutation> rest;
    for (auto& m : chunk->entries) (m.key.rfind(AppKey(""), 0) == 0 ? app : rest).push_back(m);
    for (auto& m : app) m.key.erase(0, AppKey("").size());
    auto out = ConvertEntries(std::move(app), chunk->schema, standby_->schema);
    if (out.ok()) {
      chunk->entries = std::move(rest);
      for (auto& m : *out) chunk->entries.push_back({AppKey(m.key), m.value, false});
      chunk->schema = standby_->schema;
    }
    converted = out.status();
  }
  if (!converted.ok()) {
    // The standby cannot read our state (e.g. a feature it lacks is in use): it stays out
    // of sync, which an upgrade campaign sees as a failed sync step.
    spdlog::error("standby {} (schema {}): {}; dropping the session", standby_->replica,
                  standby_->schema, converted.message());
    standby_.reset();
    return false;
  }
  standby_->last_sent_us = now_us;
  Emit(ToStandby{standby_->route, std::move(message)});
  return true;
}

void ReplicaCore::OnFromStandby(std::string route, PeerMessage message, int64_t now_us) {
  now_us_ = now_us;
  if (auto* hello = std::get_if<Hello>(&message)) {
    LearnEpoch(hello->epoch);
    if (hello->epoch < epoch()) {
      // A standby learns the epoch from its assignment before it says hello: an older
      // epoch is a stale or forged hello. It must not replace the live session.
      ++counters_.stale_epoch_frames;
      Emit(ToStandby{route, Refusal{epoch(), "stale epoch " + std::to_string(hello->epoch),
                                    hello->session_id}});
      return;
    }
    if (!IsActive(role())) {
      Emit(ToStandby{route, Refusal{epoch(), "not active", hello->session_id}});
      return;
    }
    if (standby_ && standby_->replica == hello->replica &&
        hello->session_id < standby_->session_id) {
      Refuse("hello of an older session of standby " + hello->replica);
      return;
    }
    StartSession(route, *hello);
    standby_->last_heard_us = now_us;
    StreamToStandby(now_us);
  } else if (auto* ack = std::get_if<Ack>(&message)) {
    LearnEpoch(ack->epoch);
    OnAck(*ack, now_us);
  } else if (auto* refusal = std::get_if<Refusal>(&message)) {
    LearnEpoch(refusal->epoch);  // e.g. "stale epoch": our standby knows a newer history
  } else {
    Refuse("deltas, chunks and refusals only flow from the active");
  }
}

void ReplicaCore::LearnEpoch(uint64_t seen) {
  if (seen <= epoch()) return;
  // Someone knows a newer history. An active (or promoting replica) of an older epoch is
  // deposed; anyone else only remembers the epoch and waits for its own assignment.
  ++counters_.stale_epoch_frames;
  Adopt(seen);
  if (IsActive(role()) || role() == RoleState::kPromoting) machine_.TakeOutOfService();
}

void ReplicaCore::StartSession(const std::string& route, const Hello& hello) {
  standby_.emplace();
  standby_->route = route;
  standby_->replica = hello.replica;
  standby_->schema = hello.schema;
  standby_->session_id = hello.session_id;
  bool tail = false;
  if (!hello.needs_snapshot && hello.last_seq <= last_seq()) {
    if (hello.last_seq + 1 >= store_->meta().oldest_log_seq) {
      auto log_epoch = store_->LogEpochAt(hello.last_seq);
      tail = log_epoch.ok() && (*log_epoch == hello.last_epoch || options_.mutant_skip_epoch_check);
    }
  }
  if (tail) {
    standby_->acked_seq = hello.last_seq;
    standby_->next_send = hello.last_seq + 1;
    spdlog::info("standby {}: catch-up by log tail from {}", hello.replica, standby_->next_send);
  } else {
    standby_->snapshot = store_->OpenSnapshot();
    ++counters_.snapshots_sent;
    spdlog::info("standby {} (last {}:{}): catch-up by snapshot at {}", hello.replica,
                 hello.last_epoch, hello.last_seq, standby_->snapshot->seq());
  }
}

void ReplicaCore::OnAck(const Ack& ack, int64_t now_us) {
  if (ack.epoch != epoch()) {
    ++counters_.stale_epoch_frames;
    return;
  }
  if (!standby_ || ack.session_id != standby_->session_id || ack.applied_seq > last_seq() ||
      ack.snapshot_chunks > standby_->chunks_sent) {
    Refuse("ack of no current session (session, seq or chunk count unknown)");
    return;
  }
  standby_->last_heard_us = now_us;
  if (ack.applied_seq > standby_->acked_seq || ack.snapshot_chunks > standby_->chunks_acked) {
    standby_->progress_us = now_us;
  }
  standby_->acked_seq = std::max(standby_->acked_seq, ack.applied_seq);
  standby_->chunks_acked = std::max(standby_->chunks_acked, ack.snapshot_chunks);
  // The standby promised not to help a promotion until echo + lease.
  if (ack.echo_us > 0 && ack.echo_us <= now_us) {
    lease_until_us_ = std::max(lease_until_us_, ack.echo_us + options_.lease_ms * 1000);
  }
}

void ReplicaCore::StreamToStandby(int64_t now_us) {
  if (!standby_) return;
  if (standby_->progress_us == 0) standby_->progress_us = now_us;
  if (standby_->live && standby_->acked_seq < last_seq() &&
      now_us - standby_->progress_us > options_.ack_timeout_ms * 1000) {
    // Deltas sent but never acknowledged: lost on the way (a dropped connection), or their
    // acks were. The standby finds a gap only in a later delta, and there may be none:
    // send again from its last ack (it skips what it has). Found by the simulator.
    spdlog::info("standby {}: no ack beyond {} for {} ms; resending from there", standby_->replica,
                 standby_->acked_seq, options_.ack_timeout_ms);
    standby_->live = false;
    standby_->next_send = standby_->acked_seq + 1;
    standby_->progress_us = now_us;
  }
  if (standby_->snapshot && standby_->chunks_acked < standby_->chunks_sent &&
      now_us - standby_->progress_us > options_.ack_timeout_ms * 1000) {
    // A chunk (or its ack) was lost: the standby only notices a gap at a later chunk, and
    // the lost one may have been the last. End the session; its hello starts a new one.
    spdlog::info("standby {}: snapshot chunk acks stopped at {} of {}; ending the session",
                 standby_->replica, standby_->chunks_acked, standby_->chunks_sent);
    Emit(ToStandby{standby_->route,
                   Refusal{epoch(), "snapshot stalled: start over", standby_->session_id}});
    standby_.reset();
    return;
  }
  if (standby_->snapshot) {
    if (!SendSnapshotChunks(now_us)) return;
  } else if (!standby_->live) {
    while (standby_->next_send <= last_seq() &&
           standby_->next_send - standby_->acked_seq <= options_.max_lag_ops) {
      auto deltas = store_->ReadLog(standby_->next_send, options_.tail_batch_ops);
      if (!deltas.ok() || deltas->empty()) {
        // Truncated while we streamed. One snapshot per session keeps acks unambiguous:
        // drop the session; the standby's hello opens a new one that starts with a snapshot.
        spdlog::info("standby session {}: the log no longer reaches {}; dropping the session",
                     standby_->session_id, standby_->next_send);
        standby_.reset();
        return;
      }
      standby_->next_send = deltas->back().seq + 1;
      standby_->live = standby_->next_send > last_seq();
      if (!SendToStandby(MakeBatch(std::move(deltas).value(), now_us), now_us)) return;
    }
    standby_->live = standby_->next_send > last_seq();
  }
  if (now_us - standby_->last_sent_us >= options_.heartbeat_ms * 1000) {
    SendToStandby(MakeBatch({}, now_us), now_us);  // heartbeat: renews the lease via the ack
  }
}

bool ReplicaCore::SendSnapshotChunks(int64_t now_us) {
  StandbySession& s = *standby_;
  // One chunk per turn of the loop: reading, converting and encoding a chunk takes tens of
  // ms on a large state, and the requests arriving meanwhile must not wait for a window's
  // worth of them (a full window at once held writes ~200 ms on a million keys).
  if (!s.last_chunk_sent && s.chunks_sent - s.chunks_acked < options_.snapshot_window_chunks) {
    auto entries = s.snapshot->Next(options_.snapshot_chunk_bytes);
    if (!entries.ok()) Fatal(entries.status());
    SnapshotChunk c;
    c.epoch = epoch();
    c.session_id = s.session_id;
    c.snapshot_epoch = s.snapshot->epoch();
    c.snapshot_seq = s.snapshot->seq();
    c.index = s.chunks_sent++;
    c.last = s.snapshot->done();
    c.entries = std::move(entries).value();
    s.catchup_keys += c.entries.size();
    for (const Mutation& m : c.entries) s.catchup_bytes += m.key.size() + m.value.size();
    c.schema = s.snapshot->schema();
    c.sent_us = now_us;
    s.last_chunk_sent = c.last;
    if (!SendToStandby(std::move(c), now_us)) return false;  // `s` is gone
  }
  if (s.last_chunk_sent && s.chunks_acked == s.chunks_sent) {
    s.acked_seq = s.snapshot->seq();
    s.next_send = s.acked_seq + 1;
    s.snapshot.reset();
  }
  return true;
}

}  // namespace duplex
