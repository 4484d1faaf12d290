#include "upgrade_coordinator/digest_comparison.h"

#include <algorithm>
#include <limits>

#include "common/assert.h"

namespace duplex {
namespace {

constexpr int kOpenTimeoutMs = 5000;
constexpr int kDigestTimeoutMs = 120000;

// A question of the opening phase (a mark, or a snapshot opened under the hold).
bool Opening(const DigestComparison::Question& q) {
  return q.request.op == AdminOp::kDigestMark || q.request.op == AdminOp::kDigestOpen;
}

}  // namespace

DigestComparison::DigestComparison(size_t active, uint32_t schema, bool marks)
    : active_(active), standby_(1 - active), schema_(schema), marks_(marks) {
  DUPLEX_ASSERT(active_ < 2, "a pair has replicas 0 and 1", active_);
}

void DigestComparison::Begin(Phase phase, int64_t now_ms) {
  DUPLEX_ASSERT(phase != Phase::kRetry && !verdict_, "a phase begins only while comparing");
  DUPLEX_ASSERT(phase == Phase::kOpening || seq_, "digests are read at a named seq");
  phase_ = phase;
  for (size_t i = 0; i < 2; ++i) {
    Slot fresh;
    fresh.token = slots_[i].token;
    // A mark is asked of the active alone; everything else of both.
    fresh.wanted = !(phase == Phase::kOpening && marks_ && i == standby_);
    fresh.ask_at_ms = now_ms;
    slots_[i] = fresh;
  }
}

void DigestComparison::StartOver(int64_t now_ms, std::string why) {
  DUPLEX_ASSERT(!verdict_, "no attempt starts after the verdict", why);
  last_ = std::move(why);
  phase_ = Phase::kRetry;
  retry_at_ms_ = now_ms + (marks_ ? kRemarkMs : kReaskMs);
}

void DigestComparison::End(Status status) {
  DUPLEX_ASSERT(!verdict_, "the comparison ends once", status.ToString());
  verdict_ = std::move(status);
  holding_ = false;
}

DigestComparison::Question DigestComparison::Make(size_t replica) const {
  DUPLEX_ASSERT(replica < 2 && phase_ != Phase::kRetry, "a question of a phase", replica);
  Question q;
  q.replica = replica;
  q.attempt = attempt_;
  if (phase_ == Phase::kOpening) {
    q.request.op = marks_ ? AdminOp::kDigestMark : AdminOp::kDigestOpen;
    q.request.schema = schema_;
    q.timeout_ms = kOpenTimeoutMs;
  } else if (marks_ && replica == standby_) {
    q.request.op = AdminOp::kDigestAt;
    q.request.seq = *seq_;
    q.request.schema = schema_;
    q.timeout_ms = kDigestTimeoutMs;
  } else {
    DUPLEX_ASSERT(slots_[replica].token != 0, "a digest of the snapshot it opened", replica);
    q.request.op = AdminOp::kDigestOf;
    q.request.token = slots_[replica].token;
    q.timeout_ms = kDigestTimeoutMs;
  }
  return q;
}

std::vector<DigestComparison::Question> DigestComparison::Next(int64_t now_ms) {
  if (verdict_) return {};
  if (phase_ == Phase::kRetry) {
    if (now_ms < retry_at_ms_) return {};
    if (++attempt_ > (marks_ ? kMarksMax : kOpeningsMax)) {
      End(Unavailable("digests never compared at one seq: " +
                      (last_.empty() ? "no attempt" : last_)));
      return {};
    }
    holding_ = !marks_;  // held from the first opening until both name one seq
    Begin(Phase::kOpening, now_ms);
  }
  DUPLEX_ASSERT(!holding_ || (!marks_ && phase_ == Phase::kOpening),
                "writes are held only while snapshots open without marks", marks_);
  std::vector<Question> out;
  // The standby first: its answer may make the active's (a digest of the whole state) moot.
  for (size_t i : {standby_, active_}) {
    Slot& s = slots_[i];
    if (!s.wanted || s.answer) continue;
    if (!s.asked && now_ms >= s.ask_at_ms) {
      s.asked = true;
      s.deadline_ms = now_ms + kAnswerTimeoutMs;
      out.push_back(Make(i));
    } else if (s.asked && now_ms >= s.deadline_ms) {
      // Lost on the way, or its answer was: start over rather than wait.
      StartOver(now_ms, "replica " + std::to_string(i) + " did not answer " +
                            AdminOpName(Make(i).request.op));
      return {};
    }
  }
  return out;
}

int64_t DigestComparison::wake_ms() const {
  if (verdict_) return std::numeric_limits<int64_t>::max();
  if (phase_ == Phase::kRetry) return retry_at_ms_;
  int64_t wake = std::numeric_limits<int64_t>::max();
  for (const Slot& s : slots_) {
    if (!s.wanted || s.answer) continue;
    wake = std::min(wake, s.asked ? s.deadline_ms : s.ask_at_ms);
  }
  return wake;
}

bool DigestComparison::Awaits(const Question& q) const {
  if (verdict_ || phase_ == Phase::kRetry || q.attempt != attempt_ || q.replica > 1) return false;
  const Slot& s = slots_[q.replica];
  return Opening(q) == (phase_ == Phase::kOpening) && s.asked && !s.answer;
}

void DigestComparison::OnAnswer(const Question& q, const StatusOr<AdminReply>& answer,
                                int64_t now_ms) {
  if (!Awaits(q)) return;
  DUPLEX_ASSERT(q.replica < 2 && slots_[q.replica].wanted, "an awaited answer was asked for",
                q.replica, AdminOpName(q.request.op));
  if (!answer.ok()) {
    return End(
        Unavailable(std::string(q.request.op == AdminOp::kDigestMark ? "digest mark" : "digest") +
                    ": a replica does not answer"));
  }
  if (Opening(q)) return OnOpened(q.replica, *answer, now_ms);
  OnDigest(q.replica, *answer, now_ms);
}

void DigestComparison::OnOpened(size_t replica, const AdminReply& r, int64_t now_ms) {
  DUPLEX_ASSERT(phase_ == Phase::kOpening, "an opening answer in the opening phase", replica);
  DUPLEX_ASSERT(!marks_ || replica == active_, "only the active is asked to mark", replica);
  if (r.code != Code::kOk) {
    // An active with no standby following it (yet) cannot mark: try again.
    if (marks_ && r.code == Code::kUnavailable) return StartOver(now_ms, r.message);
    return End(Status(r.code, std::string(marks_ ? "digest mark: " : "digest: ") + r.message));
  }
  // Another process's answer: a bad one fails the comparison, it never stops the coordinator.
  if (r.token == 0) {
    return End(Status(Code::kCorruption, std::string(marks_ ? "digest mark: " : "digest: ") +
                                             "the answer names no snapshot (token 0)"));
  }
  slots_[replica].answer = r;
  slots_[replica].token = r.token;
  if (marks_) {
    seq_ = r.seq;
    reach_by_ms_ = now_ms + kReachMarkMs;
    return Begin(Phase::kDigests, now_ms);
  }
  if (!slots_[standby_].answer || !slots_[active_].answer) return;
  uint64_t a = slots_[0].answer->seq, b = slots_[1].answer->seq;
  if (a != b) return StartOver(now_ms, "seq " + std::to_string(a) + " vs " + std::to_string(b));
  seq_ = a;
  DUPLEX_ASSERT(holding_, "both snapshots opened while writes were held", a);
  holding_ = false;  // both snapshots are open: writes go on while the digests are read
  Begin(Phase::kDigests, now_ms);
}

void DigestComparison::OnDigest(size_t replica, const AdminReply& r, int64_t now_ms) {
  DUPLEX_ASSERT(phase_ == Phase::kDigests && seq_, "a digest answer at a named seq", replica);
  Slot& s = slots_[replica];
  if (marks_ && replica == standby_ && r.code == Code::kUnavailable) {
    // Not applied that far yet: it meets the mark a batch or two later.
    if (now_ms >= reach_by_ms_) return StartOver(now_ms, r.message);
    s.asked = false;
    s.ask_at_ms = now_ms + kReaskMs;
    return;
  }
  if (marks_ && replica == standby_ && r.code == Code::kNotFound) {
    return StartOver(now_ms, r.message);  // it missed the mark (a resync, a gap): mark again
  }
  if (r.code != Code::kOk) return End(Status(r.code, "digest: " + r.message));
  s.answer = r;
  if (!slots_[0].answer || !slots_[1].answer) return;
  DUPLEX_ASSERT(!holding_, "digests are read while writes go on", *seq_);
  // The active's first with marks, as the coordinator always named them.
  std::string first = DigestText(*slots_[marks_ ? active_ : 0].answer);
  std::string second = DigestText(*slots_[marks_ ? standby_ : 1].answer);
  if (first == second) return End(Status::Ok());
  End(Corruption("state digests differ at seq " + std::to_string(*seq_) + ": " + first + " vs " +
                 second));
}

}  // namespace duplex
