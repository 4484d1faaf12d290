#include "upgrade_coordinator/etcd/election_core.h"

#include <algorithm>
#include <utility>

#include "common/assert.h"

namespace duplex {
namespace {

// etcd counts as unreachable after this long without an answer, even before a call fails
// (a call to a frozen member fails only at its read timeout).
constexpr int64_t kSilentUnreachableMsMin = 1000;
// Acting ends this long before the lease's lower bound: at most a quarter of the ttl.
constexpr int64_t kActingMarginMsMax = 250;

}  // namespace

const char* EtcdCallKindName(EtcdCallKind kind) {
  switch (kind) {
    case EtcdCallKind::kGrant:
      return "lease grant";
    case EtcdCallKind::kKeepAlive:
      return "lease keepalive";
    case EtcdCallKind::kCampaign:
      return "campaign";
    case EtcdCallKind::kRevoke:
      return "lease revoke";
  }
  return "?";
}

ElectionCore::ElectionCore(ElectionOptions options, int64_t now_us)
    : options_(std::move(options)), last_answer_us_(now_us) {
  DUPLEX_ASSERT(options_.lease_ttl_s >= 1, "lease_ttl_s", options_.lease_ttl_s);
  DUPLEX_ASSERT(options_.poll_ms >= 1, "poll_ms", options_.poll_ms);
  DUPLEX_ASSERT(options_.retry_ms >= 1, "retry_ms", options_.retry_ms);
  DUPLEX_ASSERT(!options_.self_value.empty(), "the leader key needs a value");
  if (options_.resign_hold_ms <= 0) options_.resign_hold_ms = options_.lease_ttl_s * 1000;
  next_grant_us_ = now_us;
}

EtcdCall ElectionCore::Call(EtcdCallKind kind) const {
  EtcdCall call;
  call.kind = kind;
  call.lease_id = lease_id_;
  if (kind == EtcdCallKind::kGrant) call.ttl_s = options_.lease_ttl_s;
  if (kind == EtcdCallKind::kCampaign) {
    call.key = options_.prefix + "/leader";
    call.value = options_.self_value;
  }
  return call;
}

std::optional<EtcdCall> ElectionCore::Next(int64_t now_us) {
  if (outstanding_) return std::nullopt;
  std::optional<EtcdCallKind> kind;
  if (resign_pending_) {
    resign_pending_ = false;
    if (lease_id_ != 0) kind = EtcdCallKind::kRevoke;
  }
  if (!kind && lease_id_ == 0 && now_us >= next_grant_us_) kind = EtcdCallKind::kGrant;
  if (!kind && lease_id_ != 0 && now_us >= next_keepalive_us_) kind = EtcdCallKind::kKeepAlive;
  if (!kind && lease_id_ != 0 && now_us >= CampaignDueUs()) kind = EtcdCallKind::kCampaign;
  if (!kind) return std::nullopt;
  outstanding_ = kind;
  return Call(*kind);
}

int64_t ElectionCore::WakeUs(int64_t now_us) const {
  if (outstanding_) return now_us + int64_t{options_.poll_ms} * 1000;
  if (resign_pending_) return now_us;
  if (lease_id_ == 0) return std::max(now_us, next_grant_us_);
  return std::max(now_us, std::min(next_keepalive_us_, CampaignDueUs()));
}

int64_t ElectionCore::CampaignDueUs() const {
  return std::max(next_campaign_us_, campaign_hold_until_us_);
}

int64_t ElectionCore::KeepAliveIntervalUs() const {
  return int64_t{std::max(lease_ttl_s_, 1)} * 1000 * 1000 / 3;
}

int64_t ElectionCore::ActingMarginUs() const {
  return std::min(kActingMarginMsMax * 1000, int64_t{lease_ttl_s_} * 1000 * 1000 / 4);
}

void ElectionCore::Expect(EtcdCallKind kind) const {
  DUPLEX_ASSERT(outstanding_ == kind,
                "an answer to a call that is not outstanding:", EtcdCallKindName(kind));
}

void ElectionCore::Succeeded(int64_t now_us) {
  outstanding_.reset();
  last_answer_us_ = std::max(last_answer_us_, now_us);
  last_failed_ = false;
  etcd_error_.clear();
}

void ElectionCore::DropLease() {
  lease_id_ = 0;
  lease_valid_until_us_ = 0;
  holding_ = false;
}

void ElectionCore::TakeLeaseBound(int64_t sent_us, int ttl_s) {
  lease_valid_until_us_ = std::max(lease_valid_until_us_, sent_us + int64_t{ttl_s} * 1000 * 1000);
}

void ElectionCore::OnGrant(int64_t lease_id, int ttl_s, int64_t sent_us, int64_t now_us) {
  Expect(EtcdCallKind::kGrant);
  DUPLEX_ASSERT(lease_id != 0 && ttl_s >= 1, "lease grant answered", lease_id, ttl_s);
  Succeeded(now_us);
  DropLease();
  lease_id_ = lease_id;
  lease_ttl_s_ = ttl_s;
  TakeLeaseBound(sent_us, ttl_s);
  next_keepalive_us_ = sent_us + KeepAliveIntervalUs();
  next_campaign_us_ = now_us;  // campaign at once with the new lease
}

void ElectionCore::OnKeepAlive(int ttl_left_s, int64_t sent_us, int64_t now_us) {
  Expect(EtcdCallKind::kKeepAlive);
  Succeeded(now_us);
  if (ttl_left_s <= 0) {
    // etcd let the lease expire (we were cut off longer than its ttl): the leader key went
    // with it. Leadership ends at once; a new lease, then a new campaign.
    DropLease();
    next_grant_us_ = now_us;
    return;
  }
  TakeLeaseBound(sent_us, ttl_left_s);
  next_keepalive_us_ = sent_us + KeepAliveIntervalUs();
}

void ElectionCore::OnCampaign(const CampaignResult& result, int64_t sent_us, int64_t now_us) {
  Expect(EtcdCallKind::kCampaign);
  DUPLEX_ASSERT(!result.won || (result.leader_create_revision > 0 &&
                                result.leader_lease_id == lease_id_ && lease_id_ != 0),
                "a won campaign names its revision and our lease", result.leader_create_revision,
                result.leader_lease_id, lease_id_);
  Succeeded(now_us);
  next_campaign_us_ = std::max(now_us, sent_us + int64_t{options_.poll_ms} * 1000);
  // The key is ours when our put happened, or when it is attached to our lease (an earlier
  // campaign whose answer was lost did put it). A key on any other lease is someone else's:
  // if we held it before, our lease expired and leadership is lost at once.
  bool ours =
      lease_id_ != 0 && result.leader_lease_id == lease_id_ && result.leader_create_revision > 0;
  holding_ = ours && !resign_pending_;
  term_ = static_cast<uint64_t>(std::max<int64_t>(result.leader_create_revision, 0));
  leader_value_ = result.won                          ? options_.self_value
                  : result.leader_create_revision > 0 ? result.leader_value
                                                      : "";
}

void ElectionCore::OnRevoked(int64_t now_us) {
  Expect(EtcdCallKind::kRevoke);
  Succeeded(now_us);
  DropLease();
  next_grant_us_ = now_us;
}

void ElectionCore::OnFailure(std::string why, int64_t now_us) {
  DUPLEX_ASSERT(outstanding_.has_value(), "a failure with no call outstanding:", why);
  EtcdCallKind kind = *outstanding_;
  outstanding_.reset();
  last_failed_ = true;
  etcd_error_ = std::move(why);
  int64_t retry_us = now_us + int64_t{options_.retry_ms} * 1000;
  switch (kind) {
    case EtcdCallKind::kGrant:
      next_grant_us_ = retry_us;
      break;
    case EtcdCallKind::kKeepAlive:
      next_keepalive_us_ = retry_us;
      break;
    case EtcdCallKind::kCampaign:
      next_campaign_us_ = retry_us;
      break;
    case EtcdCallKind::kRevoke:
      // The lease then ends by itself within its ttl; we no longer act on it either way.
      DropLease();
      next_grant_us_ = retry_us;
      break;
  }
}

void ElectionCore::Resign(int64_t now_us) {
  holding_ = false;
  resign_pending_ = lease_id_ != 0 && outstanding_ != EtcdCallKind::kRevoke;
  campaign_hold_until_us_ = now_us + int64_t{options_.resign_hold_ms} * 1000;
}

bool ElectionCore::Acting(int64_t now_us) const {
  DUPLEX_ASSERT(!holding_ || (lease_id_ != 0 && term_ > 0), "the key is held on a lease, in a term",
                lease_id_, term_);
  return holding_ && lease_id_ != 0 && now_us < lease_valid_until_us_ - ActingMarginUs();
}

LeaderView ElectionCore::View(int64_t now_us) const {
  LeaderView view;
  view.acting = Acting(now_us);
  view.term = term_;
  // Not acting on a key we held (its lease may have run out, or we resigned): we cannot vouch
  // for ourselves, and do not know yet who took over.
  const bool lost_own = !view.acting && leader_value_ == options_.self_value;
  view.leader_value = lost_own ? "" : leader_value_;
  view.etcd_silent_ms = std::max<int64_t>(0, (now_us - last_answer_us_) / 1000);
  int64_t silent_max_ms = std::max<int64_t>(kSilentUnreachableMsMin, 3 * int64_t{options_.poll_ms});
  view.etcd_reachable = !last_failed_ && view.etcd_silent_ms < silent_max_ms;
  view.etcd_error = etcd_error_;
  if (!last_failed_ && !view.etcd_reachable) {
    view.etcd_error = "no answer from etcd for " + std::to_string(view.etcd_silent_ms) + " ms";
  }
  return view;
}

}  // namespace duplex
