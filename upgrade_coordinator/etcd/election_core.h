// ElectionCore: Patroni's leader loop on etcd as a sans-I/O machine. It says which etcd call
// to make next (one outstanding at a time) and takes the results; all times are passed in.
// The Elector (elector.h) drives it with a real etcd, the simulator with a simulated one.
// Owned by one thread (or the simulator); not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace duplex {

struct ElectionOptions {
  std::string prefix;      // the leader key is <prefix>/leader
  std::string self_value;  // what the leader key holds while this coordinator leads
  int lease_ttl_s = 2;     // etcd grants at least 1 s with the lab's election timeout
  int poll_ms = 100;       // a campaign (or, leading, a check of the key) this often
  // After Resign, no campaign for this long, so that a follower takes the key first.
  // 0 = one lease ttl.
  int resign_hold_ms = 0;
  // A failed call is retried after this long (a keepalive sooner: see RetryUs).
  int retry_ms = 100;
};

// One etcd request, as plain values so that a fake etcd can answer it.
enum class EtcdCallKind {
  kGrant,      // LeaseGrant(ttl_s) -> OnGrant
  kKeepAlive,  // LeaseKeepAlive(lease_id) -> OnKeepAlive
  // Txn: if create_revision(key) == 0 then put key=value with lease_id else range key
  // -> OnCampaign. Also sent while leading, to check that the key is still ours.
  kCampaign,
  kRevoke,  // LeaseRevoke(lease_id) -> OnRevoked
};

const char* EtcdCallKindName(EtcdCallKind kind);

struct EtcdCall {
  EtcdCallKind kind = EtcdCallKind::kGrant;
  int64_t lease_id = 0;  // kKeepAlive, kCampaign, kRevoke
  int ttl_s = 0;         // kGrant
  std::string key;       // kCampaign: <prefix>/leader
  std::string value;     // kCampaign: self_value
};

// The answer to a kCampaign txn.
struct CampaignResult {
  bool won = false;  // the compare held and our put happened
  // won: the txn's revision (the new key's create_revision); else the existing key's.
  int64_t leader_create_revision = 0;
  std::string leader_value;     // the key's value (ours when won)
  int64_t leader_lease_id = 0;  // the lease the key is attached to (ours when won)
};

struct LeaderView {
  bool acting = false;       // holds the key and its lease is surely still valid
  uint64_t term = 0;         // the leader key's create_revision, 0 while no leader is known
  std::string leader_value;  // who leads ("" when unknown)
  bool etcd_reachable = false;
  std::string etcd_error;      // the last failure, "" after a success
  int64_t etcd_silent_ms = 0;  // since the last answer from etcd (or since the start)
};

class ElectionCore {
 public:
  ElectionCore(ElectionOptions options, int64_t now_us);

  // The call to make now, or nullopt (one is outstanding, or nothing is due before WakeUs).
  std::optional<EtcdCall> Next(int64_t now_us);
  // When Next may next return a call (for the driver's sleep); now_us when one is due.
  int64_t WakeUs(int64_t now_us) const;

  // The results of the outstanding call. sent_us: when it was sent (its lease bounds count
  // from there, never from the answer's arrival).
  void OnGrant(int64_t lease_id, int ttl_s, int64_t sent_us, int64_t now_us);
  void OnKeepAlive(int ttl_left_s, int64_t sent_us, int64_t now_us);
  void OnCampaign(const CampaignResult& result, int64_t sent_us, int64_t now_us);
  void OnRevoked(int64_t now_us);
  // The outstanding call failed (connection, timeout, HTTP or decoding error).
  void OnFailure(std::string why, int64_t now_us);

  // Voluntary step-down: stop acting now, revoke the lease (so the key goes at once) and
  // hold off campaigning for resign_hold_ms.
  void Resign(int64_t now_us);

  LeaderView View(int64_t now_us) const;
  bool Acting(int64_t now_us) const;
  int64_t lease_id() const { return lease_id_; }
  bool outstanding() const { return outstanding_.has_value(); }
  const ElectionOptions& options() const { return options_; }

 private:
  void Succeeded(int64_t now_us);
  void DropLease();
  void TakeLeaseBound(int64_t sent_us, int ttl_s);
  int64_t ActingMarginUs() const;
  int64_t KeepAliveIntervalUs() const;
  int64_t CampaignDueUs() const;
  EtcdCall Call(EtcdCallKind kind) const;
  void Expect(EtcdCallKind kind) const;

  ElectionOptions options_;
  std::optional<EtcdCallKind> outstanding_;
  int64_t lease_id_ = 0;  // 0: none (never granted, revoked or found expired)
  int lease_ttl_s_ = 0;   // as granted
  // The lease lives at least until here: send time of the last acknowledged grant or
  // keepalive plus the ttl it reported.
  int64_t lease_valid_until_us_ = 0;
  bool holding_ = false;  // the leader key is ours (attached to lease_id_)
  uint64_t term_ = 0;
  std::string leader_value_;
  bool resign_pending_ = false;  // a Revoke is still to be sent
  int64_t campaign_hold_until_us_ = 0;
  int64_t next_grant_us_ = 0;
  int64_t next_keepalive_us_ = 0;
  int64_t next_campaign_us_ = 0;
  int64_t last_answer_us_;
  bool last_failed_ = false;
  std::string etcd_error_;
};

}  // namespace duplex
