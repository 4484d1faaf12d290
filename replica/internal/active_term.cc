#include "replica/internal/active_term.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <unordered_map>

#include "common/assert.h"

namespace duplex {

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

ActiveTerm::ActiveTerm(CoreContext& ctx) : ctx_(ctx), sessions_(ctx) {}

bool ActiveTerm::OnAssignment(const Assignment& a, int64_t now_us, int64_t last_renewal_us) {
  DUPLEX_ASSERT(a.role == WireRole::kActive, "an assignment to be active", WireRoleName(a.role));
  DUPLEX_ASSERT(a.epoch == ctx_.epoch(), "the core adopted the assignment's epoch", a.epoch,
                ctx_.epoch());
  if (a.epoch > term_epoch_) {
    // A new term for this replica (its epoch may already have been raised by a peer).
    term_epoch_ = a.epoch;
    promote_wait_until_us_ = ctx_.options().promote_wait(PromoteWait{
        now_us, last_renewal_us, int64_t{ctx_.options().lease_ms} * 1000, a.skip_lease_wait});
    lease_until_us_ = 0;
    ctx_.machine().Promote();
  } else if (!IsActive(ctx_.role()) && ctx_.role() != RoleState::kPromoting) {
    ++ctx_.counters().refused_frames;  // a promotion always opens a new term
    spdlog::warn("assignment: active at my current epoch {} without promotion refused", a.epoch);
    return false;
  }
  DUPLEX_ASSERT(term_epoch_ == a.epoch, "an active serves the epoch it was promoted in",
                term_epoch_, a.epoch);
  if (a.lease_echo_us > 0 && a.lease_echo_us <= now_us) {
    lease_until_us_ = std::max(lease_until_us_, a.lease_echo_us + ctx_.options().lease_ms * 1000);
  }
  if (ctx_.role() == RoleState::kReplicating && want_solo_ && SoloGranted()) {
    want_solo_ = false;
    ctx_.machine().SoloGranted();
  }
  return true;
}

void ActiveTerm::OnPromotingTick(int64_t now_us) {
  DUPLEX_ASSERT(ctx_.role() == RoleState::kPromoting, RoleStatePath(ctx_.role()));
  if (now_us < promote_wait_until_us_) return;
  DUPLEX_ASSERT(term_epoch_ == ctx_.epoch(), "a promotion is of our epoch", term_epoch_,
                ctx_.epoch());
  BeginTerm();
  ctx_.machine().LeaseWaitOver(SoloGranted());
}

void ActiveTerm::BeginTerm() {
  DUPLEX_ASSERT(ctx_.role() == RoleState::kPromoting, "a term begins when a promotion ends",
                RoleStatePath(ctx_.role()));
  // A new term: the standby must say hello again; the coordinator recorded it out of
  // sync when it promoted this replica (solo request 0 of the epoch).
  standby_.reset();
  pending_.clear();
  sessions_.BeginTerm(ctx_.now_us());  // another replica wrote sessions meanwhile
  term_begun_us_ = ctx_.now_us();
  unchanged_answers_.clear();
  // 0 in a new epoch. A process restarted into the epoch it was active in continues above
  // the coordinator's record, which would otherwise take its requests for processed ones.
  solo_request_id_ = ctx_.assignment().sync_id;
  want_solo_ = false;
  peer_caught_up_ = false;
  solo_watermark_ = 0;
}

bool ActiveTerm::SoloGranted() const {
  const Assignment& a = ctx_.assignment();
  return a.role == WireRole::kActive && a.epoch == ctx_.epoch() && !a.standby_in_sync &&
         a.solo_grant_id == solo_request_id_;
}

bool ActiveTerm::Serving(int64_t now_us) const {
  return IsActive(ctx_.role()) && now_us < lease_until_us_ && !ctx_.assignment().drain;
}

int64_t ActiveTerm::LeaseLostUs(int64_t now_us) const {
  if (!IsActive(ctx_.role())) return 0;
  // A term begins without a lease: counted from when it could first have served.
  const int64_t since_us = std::max(lease_until_us_, promote_wait_until_us_);
  return now_us > since_us ? now_us - since_us : 0;
}

int64_t ActiveTerm::PeerSilentUs(int64_t now_us) const {
  // Only while acks wait for the standby: alone, its silence holds nothing up.
  if (ctx_.role() != RoleState::kReplicating) return 0;
  const int64_t heard_us = standby_ ? standby_->last_heard_us() : term_begun_us_;
  const int64_t silent_us = now_us - heard_us;
  return silent_us > ctx_.options().ack_timeout_ms * int64_t{1000} ? silent_us : 0;
}

bool ActiveTerm::LagBoundReached() const {
  return ctx_.options().async && standby_ &&
         ctx_.last_seq() - standby_->acked_seq() >= ctx_.options().lag_ops_max;
}

void ActiveTerm::Enqueue(std::string route, Request request) {
  DUPLEX_ASSERT(IsActive(ctx_.role()) && !ctx_.assignment().drain,
                "requests queue only at an active that is not draining",
                RoleStatePath(ctx_.role()));
  if (queue_.size() >= ctx_.options().queue_max) {
    return ctx_.Reply(route, request, {Code::kUnavailable, "request queue is full", ""});
  }
  queue_.emplace_back(std::move(route), std::move(request));
  DUPLEX_ASSERT(queue_.size() <= ctx_.options().queue_max, "the queue is bounded", queue_.size());
}

void ActiveTerm::OnTick(int64_t now_us) {
  DUPLEX_ASSERT(IsActive(ctx_.role()), RoleStatePath(ctx_.role()));
  DUPLEX_ASSERT(term_epoch_ == ctx_.epoch(), "an active serves only the epoch it was promoted in",
                term_epoch_, ctx_.epoch());
  // Answer what the standby acked before the next group commit's fsync delays it.
  ReleaseReplies(now_us);
  FlushQueue(now_us);
  ExpireSessions(now_us);
  StreamToStandby(now_us);
  CheckStandbyProgress(now_us);
  ReleaseReplies(now_us);
}

void ActiveTerm::FlushQueue(int64_t now_us) {
  if (queue_.empty()) return;
  if (now_us >= lease_until_us_) {
    // Without a lease another replica may already be active: serve nothing.
    for (auto& [route, request] : queue_) {
      if (AnswerUnleasedRead(route, request)) continue;
      ctx_.Reply(route, request, {Code::kUnavailable, "active without a lease", ""});
    }
    queue_.clear();
    return;
  }
  if (LagBoundReached()) return;       // async lag bound: writes wait for the standby
  if (ctx_.assignment().hold) return;  // a digest comparison: requests wait, none commit
  size_t n = std::min<size_t>(queue_.size(), ctx_.options().batch_ops_max);
  OverlayReader reader(&ctx_.store());
  sessions_.MakeRoom(n);
  Batch batch{ctx_.last_seq(), {}, {}, 0};
  for (size_t i = 0; i < n; ++i) {
    auto& [route, request] = queue_[i];
    ClientReply reply{
        request.client_id, request.request_seq, {}, ctx_.epoch(), ctx_.options().endpoint};
    if (AnswerFromSession(route, request, reply, now_us, batch)) continue;
    Execute(route, request, std::move(reply), reader, now_us, batch);
  }
  DUPLEX_ASSERT(batch.seq == ctx_.last_seq() + batch.deltas.size(),
                "a group commit's deltas are consecutive", batch.seq, ctx_.last_seq(),
                batch.deltas.size());
  DUPLEX_ASSERT(batch.replies.size() + batch.answered == n,
                "every request of a group commit gets one reply", batch.replies.size(),
                batch.answered, n);
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<long>(n));
  Replicate(batch.deltas, now_us);
  for (auto& r : batch.replies) {
    DUPLEX_ASSERT(pending_.empty() || pending_.back().seq <= r.seq,
                  "replies wait in seq order, so releasing stops at the first unacked one",
                  pending_.empty() ? 0 : pending_.back().seq, r.seq);
    pending_.push_back(std::move(r));
  }
}

bool ActiveTerm::AnswerFromSession(const std::string& route, const Request& request,
                                   ClientReply& reply, int64_t now_us, Batch& batch) {
  if (request.client_id == 0 || request.request_seq == 0) return false;  // not tracked
  auto unchanged = unchanged_answers_.find(request.client_id);
  if (unchanged != unchanged_answers_.end() && unchanged->second.first == request.request_seq) {
    // A duplicate of a request that changed nothing: its first answer, not a second run.
    reply.response = unchanged->second.second;
    batch.replies.push_back({batch.seq, now_us, route, std::move(reply)});
    return true;
  }
  std::optional<SessionEntry> last = sessions_.Find(request.client_id);
  if (!last || request.request_seq > last->request_seq) return false;
  if (request.request_seq == last->request_seq) {
    reply.response = {static_cast<Code>(last->code), last->message, last->value};
    auto dated = sessions_.Refresh(request.client_id, *last, batch.seq + 1, now_us);
    if (dated) {
      ++batch.seq;
      batch.deltas.push_back(std::move(*dated));
    }
  } else {
    reply.response = {Code::kFailedPrecondition,
                      "request " + std::to_string(request.request_seq) +
                          " is older than the last one of this client (" +
                          std::to_string(last->request_seq) + ")",
                      ""};
  }
  // The remembered answer may itself still be replicating: wait for everything so far.
  batch.replies.push_back({batch.seq, now_us, route, std::move(reply)});
  return true;
}

void ActiveTerm::Execute(const std::string& route, const Request& request, ClientReply reply,
                         OverlayReader& reader, int64_t now_us, Batch& batch) {
  Outcome outcome = ctx_.processor().Execute(request, reader, ctx_.features());
  reply.response = outcome.response;
  NoteUnchanged(request, outcome);
  if (!outcome.mutations.empty()) {
    Delta d;
    d.epoch = ctx_.epoch();
    d.seq = ++batch.seq;
    d.schema = ctx_.processor().Schema();
    d.mutations = std::move(outcome.mutations);
    if (request.client_id != 0 && request.request_seq != 0) {
      sessions_.Record(d, request, outcome.response, now_us);
    }
    reader.Apply(d.mutations);
    batch.deltas.push_back(std::move(d));
  } else if (!ctx_.options().reads_wait()) {
    CountAnswer(reply.response.code, 0);
    ctx_.Emit(ToClient{route, std::move(reply)});
    ++batch.answered;
    return;
  }
  // Reads and refusals wait for everything before them, so nothing unreplicated is seen.
  batch.replies.push_back({batch.seq, now_us, route, std::move(reply)});
}

void ActiveTerm::NoteUnchanged(const Request& request, const Outcome& outcome) {
  if (request.client_id == 0 || request.request_seq == 0) return;  // not tracked
  if (!outcome.mutations.empty()) {
    unchanged_answers_.erase(request.client_id);  // the session table keeps this answer
    return;
  }
  if (unchanged_answers_.size() >= kUnchangedAnswersMax) unchanged_answers_.clear();
  unchanged_answers_[request.client_id] = {request.request_seq, outcome.response};
}

bool ActiveTerm::AnswerUnleasedRead(const std::string& route, const Request& request) {
  if (!ctx_.options().unleased_reads(UnleasedRead{term_epoch_ > 0})) return false;
  OverlayReader reader(&ctx_.store());
  Outcome outcome = ctx_.processor().Execute(request, reader, ctx_.features());
  if (!outcome.mutations.empty()) return false;  // a write: never without a lease
  ctx_.Reply(route, request, std::move(outcome.response));
  return true;
}

void ActiveTerm::Replicate(const std::vector<Delta>& deltas, int64_t now_us) {
  if (deltas.empty()) return;
  DUPLEX_ASSERT(deltas.front().seq == ctx_.last_seq() + 1, "the deltas continue our log",
                deltas.front().seq, ctx_.last_seq());
  DUPLEX_ASSERT(deltas.back().epoch == ctx_.epoch(), "an active writes deltas of its own epoch",
                deltas.back().epoch, ctx_.epoch());
  // Send first: the standby's fsync then runs while ours does. A standby holding a
  // delta its active lost in a crash is harmless: nobody acknowledged it yet.
  if (standby_ && standby_->live() && !standby_->SendLive(deltas, now_us)) standby_.reset();
  ctx_.Commit(deltas);
}

void ActiveTerm::ExpireSessions(int64_t now_us) {
  if (!sessions_.SweepDue(now_us) || !Serving(now_us) || ctx_.assignment().hold) return;
  if (LagBoundReached()) return;
  Replicate(sessions_.Sweep(now_us, ctx_.last_seq() + 1), now_us);
}

void ActiveTerm::ReleaseReplies(int64_t now_us) {
  uint64_t upto = ctx_.last_seq();
  if (!ctx_.options().async && ctx_.role() == RoleState::kReplicating) {
    upto = standby_ ? standby_->acked_seq() : 0;
  }
  DUPLEX_ASSERT(upto <= ctx_.last_seq(), "a reply is released only once its seq is committed", upto,
                ctx_.last_seq());
  while (!pending_.empty() && pending_.front().seq <= upto) {
    PendingReply& p = pending_.front();
    CountAnswer(p.reply.response.code, now_us - p.since_us);
    ctx_.Emit(ToClient{p.route, std::move(p.reply)});
    pending_.pop_front();
  }
}

void ActiveTerm::CountAnswer(Code code, int64_t latency_us) {
  ++ctx_.counters().requests_answered;
  if (code == Code::kUnavailable || code == Code::kIOError || code == Code::kInternal ||
      code == Code::kCorruption) {
    ++ctx_.counters().server_errors;
  }
  latency_samples_us_.Push({ctx_.now_us(), latency_us});
  ctx_.counters().request_latency.Observe(latency_us);
}

uint64_t ActiveTerm::LatencyP99Us(int64_t now_us) const {
  std::vector<int64_t> recent;
  for (const auto& [at, latency] : latency_samples_us_.values()) {
    if (now_us - at <= kLatencyWindowUs) recent.push_back(latency);
  }
  if (recent.empty()) return 0;
  auto p99 = recent.begin() + static_cast<long>(recent.size() * 99 / 100);
  std::nth_element(recent.begin(), p99, recent.end());
  return static_cast<uint64_t>(*p99);
}

void ActiveTerm::CheckStandbyProgress(int64_t now_us) {
  if (ctx_.role() == RoleState::kSolo) return CheckSoloProgress(now_us);
  DUPLEX_ASSERT(ctx_.role() == RoleState::kReplicating, RoleStatePath(ctx_.role()));
  if (!peer_caught_up_ && !want_solo_ && standby_ && standby_->acked_seq() >= solo_watermark_ &&
      solo_request_id_ > 0) {
    peer_caught_up_ = true;
    ctx_.SendStatus();
  }
  if (ctx_.options().async || want_solo_) return;
  int64_t timeout_us = ctx_.options().ack_timeout_ms * 1000;
  bool stuck = !pending_.empty() && pending_.front().seq > (standby_ ? standby_->acked_seq() : 0) &&
               now_us - pending_.front().since_us > timeout_us;
  bool silent =
      !standby_ || ctx_.assignment().standby_out || now_us - standby_->last_heard_us() > timeout_us;
  if (stuck || silent) {
    // Ask the coordinator to record the standby out of sync; acks wait for its answer.
    NextSoloRequest();
    want_solo_ = true;
    peer_caught_up_ = false;
    spdlog::info("standby {}: asking to go solo (request {})", stuck ? "lagging" : "silent",
                 solo_request_id_);
    ctx_.SendStatus();
  }
}

void ActiveTerm::CheckSoloProgress(int64_t now_us) {
  DUPLEX_ASSERT(ctx_.role() == RoleState::kSolo, RoleStatePath(ctx_.role()));
  int64_t timeout_us = ctx_.options().ack_timeout_ms * 1000;
  if (standby_ &&
      (ctx_.assignment().standby_out || now_us - standby_->last_heard_us() > timeout_us)) {
    standby_.reset();  // gone; it says hello again when it comes back
    return;
  }
  // The standby follows the live stream closely: from now on acks wait for it again.
  // It is reported in sync once it has everything acknowledged while solo.
  if (standby_ && standby_->live() &&
      ctx_.last_seq() - standby_->acked_seq() <= ctx_.options().batch_ops_max) {
    NextSoloRequest();  // the solo grant is given up
    want_solo_ = false;
    peer_caught_up_ = false;
    solo_watermark_ = ctx_.last_seq();
    ctx_.machine().PeerInSync();
  }
}

void ActiveTerm::NextSoloRequest() {
  DUPLEX_ASSERT(solo_request_id_ < UINT64_MAX, "a solo request id never wraps", solo_request_id_);
  ++solo_request_id_;
}

void ActiveTerm::StreamToStandby(int64_t now_us) {
  if (standby_ && !standby_->Stream(now_us)) standby_.reset();
}

bool ActiveTerm::StandbyFollowsLive() const {
  return IsActive(ctx_.role()) && standby_ && standby_->live() &&
         standby_->next_send() > ctx_.last_seq();
}

void ActiveTerm::SendDigestMark(uint64_t seq, int64_t now_us) {
  DUPLEX_ASSERT(standby_.has_value(), "a standby session exists before a mark is sent to it");
  DUPLEX_ASSERT(seq == ctx_.last_seq(), "a mark follows every delta up to its seq", seq,
                ctx_.last_seq());
  DeltaBatch mark = standby_->MakeBatch({}, now_us);  // after every delta up to seq
  mark.digest_at = seq;
  if (!standby_->Send(std::move(mark), now_us)) standby_.reset();
}

void ActiveTerm::OnFromStandby(const std::string& route, const PeerMessage& message,
                               int64_t now_us) {
  // An epoch past the step bound is never learnt: adopted, 2^64-1 would depose this active
  // and fence every later assignment out (the next promotion's epoch wraps to 0).
  if (auto* hello = std::get_if<Hello>(&message)) {
    // Only the standby the coordinator assigned may open a session: a stranger's hello would
    // replace the session, and its acks would release writes the standby never stored. Its
    // epoch is not learnt either (it is not of our pair). An older epoch's hello is refused as
    // stale by OnHello, whoever sends it (our epoch is no secret: /status shows it).
    if (hello->epoch >= ctx_.epoch() && hello->replica != ctx_.assignment().peer_name) {
      ++ctx_.counters().unassigned_hellos;
      ctx_.Refuse("hello from replica '" + hello->replica + "', but the assigned standby is '" +
                  ctx_.assignment().peer_name + "'");
      return;
    }
    if (!ctx_.PeerEpochWithinStep(hello->epoch, "hello")) return;
    ctx_.LearnEpoch(hello->epoch);
    OnHello(route, *hello, now_us);
  } else if (auto* ack = std::get_if<Ack>(&message)) {
    if (!ctx_.PeerEpochWithinStep(ack->epoch, "ack")) return;
    ctx_.LearnEpoch(ack->epoch);
    OnAck(*ack, now_us);
  } else if (auto* refusal = std::get_if<Refusal>(&message)) {
    if (!ctx_.PeerEpochWithinStep(refusal->epoch, "refusal")) return;
    ctx_.LearnEpoch(refusal->epoch);  // e.g. "stale epoch": our standby knows a newer history
  } else {
    ctx_.Refuse("deltas, chunks and refusals only flow from the active");
  }
}

void ActiveTerm::OnHello(const std::string& route, const Hello& hello, int64_t now_us) {
  DUPLEX_ASSERT(hello.epoch <= ctx_.epoch(), "a newer epoch was learnt before", hello.epoch,
                ctx_.epoch());
  if (hello.epoch < ctx_.epoch()) {
    // A standby learns the epoch from its assignment before it says hello: an older
    // epoch is a stale or forged hello. It must not replace the live session.
    ++ctx_.counters().stale_epoch_frames;
    ctx_.Emit(ToStandby{route, Refusal{ctx_.epoch(), "stale epoch " + std::to_string(hello.epoch),
                                       hello.session_id}});
    return;
  }
  if (!IsActive(ctx_.role())) {
    ctx_.Emit(ToStandby{route, Refusal{ctx_.epoch(), "not active", hello.session_id}});
    return;
  }
  if (standby_ && standby_->replica() == hello.replica &&
      hello.session_id < standby_->session_id()) {
    ctx_.Refuse("hello of an older session of standby " + hello.replica);
    return;
  }
  standby_.emplace(ctx_, route, hello, now_us);  // replaces the session of an older hello
  StreamToStandby(now_us);
}

void ActiveTerm::OnAck(const Ack& ack, int64_t now_us) {
  if (ack.epoch != ctx_.epoch()) {
    ++ctx_.counters().stale_epoch_frames;
    return;
  }
  if (!standby_ || !standby_->Knows(ack)) {
    ctx_.Refuse("ack of no current session (session, seq or chunk count unknown)");
    return;
  }
  DUPLEX_ASSERT(IsActive(ctx_.role()), "a session lives only in an active term",
                RoleStatePath(ctx_.role()));
  standby_->OnAck(ack, now_us);
  // The standby promised not to help a promotion until echo + lease.
  if (ack.echo_us > 0 && ack.echo_us <= now_us) {
    lease_until_us_ = std::max(lease_until_us_, ack.echo_us + ctx_.options().lease_ms * 1000);
  }
}

void ActiveTerm::End(const char* why) {
  // Committed here but never acknowledged: the outcome is unknown to the client,
  // which retries with the same request seq and gets exactly-once from the session table.
  for (auto& p : pending_) {
    p.reply.response = {Code::kUnavailable, std::string("outcome unknown: ") + why, ""};
    ctx_.Emit(ToClient{p.route, p.reply});
  }
  pending_.clear();
  for (auto& [route, request] : queue_) ctx_.ReplyNotActive(route, request);
  queue_.clear();
  standby_.reset();
}

bool ActiveTerm::Demoted() const {
  return IsActive(ctx_.role()) && ctx_.assignment().drain && standby_ &&
         standby_->acked_seq() == ctx_.last_seq() && pending_.empty() && queue_.empty();
}

void ActiveTerm::FillStatus(StatusReport& s) const {
  DUPLEX_ASSERT(IsActive(ctx_.role()), RoleStatePath(ctx_.role()));
  s.peer_acked_seq = standby_ ? standby_->acked_seq() : 0;
  DUPLEX_ASSERT(s.peer_acked_seq <= ctx_.last_seq(), "the standby acked only what we have",
                s.peer_acked_seq, ctx_.last_seq());
  s.lag_ops = ctx_.last_seq() - s.peer_acked_seq;
  s.catchup_keys = standby_ ? standby_->catchup_keys() : 0;
  s.catchup_bytes = standby_ ? standby_->catchup_bytes() : 0;
  s.solo_request_id = solo_request_id_;
  s.want_solo = want_solo_;
  s.peer_caught_up = peer_caught_up_;
  s.demoted = Demoted();
}

void ActiveTerm::AddTimers(NextTick& next) const {
  DUPLEX_ASSERT(IsActive(ctx_.role()), RoleStatePath(ctx_.role()));
  // Requests in flight, a solo request awaiting its answer, a drain or a digest hold: these
  // pass quickly, and are ticked as before rather than spelled out here.
  if (!queue_.empty() || !pending_.empty() || want_solo_ || ctx_.assignment().drain ||
      ctx_.assignment().hold) {
    return next.Soon();
  }
  const int64_t timeout_us = int64_t{ctx_.options().ack_timeout_ms} * 1000;
  if (ctx_.options().session_expiry_ms > 0) next.At(sessions_.next_sweep_us());
  if (!standby_) {
    // Replicating without a session asks for solo at its next tick (CheckStandbyProgress).
    if (ctx_.role() == RoleState::kReplicating) next.Soon();
    return;
  }
  standby_->AddTimers(next);
  next.After(standby_->last_heard_us(), timeout_us);  // a silent standby (solo, or lost)
}

}  // namespace duplex
