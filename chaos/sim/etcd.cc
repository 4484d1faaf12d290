#include "chaos/sim/etcd.h"

#include <algorithm>

#include "common/assert.h"

namespace duplex::sim {

void SimEtcd::Expire() {
  if (renew_pending_) {  // the election that just ended renewed every lease
    renew_pending_ = false;
    RenewAll(unavailable_until_us_);
  }
  std::vector<int64_t> expired;
  for (const auto& [id, lease] : leases_) {
    if (lease.expires_us <= sim_.now()) expired.push_back(id);
  }
  for (int64_t id : expired) {
    sim_.trace.Line("etcd lease " + std::to_string(id) + " expires");
    Revoke(id);
  }
}

// Deleting a lease's keys is one revision, as etcd's revoke is one txn.
void SimEtcd::Revoke(int64_t lease) {
  if (leases_.erase(lease) == 0) return;
  bool deleted = false;
  for (auto it = keys_.begin(); it != keys_.end();) {
    if (it->second.lease == lease) {
      it = keys_.erase(it);
      deleted = true;
    } else {
      ++it;
    }
  }
  if (deleted) ++revision_;
}

std::optional<EtcdKeyValue> SimEtcd::Range(const std::string& key) {
  DUPLEX_ASSERT(available(), "a call reaches etcd only while it has quorum", key);
  Expire();
  auto it = keys_.find(key);
  if (it == keys_.end()) return std::nullopt;
  return it->second;
}

bool SimEtcd::Holds(const EtcdCompare& compare) const {
  auto it = keys_.find(compare.key);
  if (compare.target == EtcdCompare::Target::kCreateRevision) {
    return (it == keys_.end() ? 0 : it->second.create_revision) == compare.create_revision;
  }
  return it != keys_.end() && it->second.value == compare.value;
}

// A put to a lease that does not exist fails the whole txn in etcd ("requested lease not
// found"); the callers here only put on leases they were just answered about, so it is a bug.
void SimEtcd::Apply(const EtcdOp& op, EtcdTxnResult& out) {
  if (op.kind == EtcdOp::Kind::kRange) {
    auto it = keys_.find(op.key);
    out.ranges.push_back(it == keys_.end() ? std::nullopt : std::optional(it->second));
    return;
  }
  if (op.kind == EtcdOp::Kind::kDelete) {
    keys_.erase(op.key);
    return;
  }
  DUPLEX_ASSERT(op.lease == 0 || leases_.count(op.lease), "a put names a live lease", op.key,
                op.lease);
  EtcdKeyValue& kv = keys_[op.key];
  if (kv.create_revision == 0) kv.create_revision = revision_;
  kv.key = op.key;
  kv.value = op.value;
  kv.mod_revision = revision_;
  kv.lease = op.lease;
}

// A txn that writes takes one new revision; one that only reads takes none.
EtcdTxnResult SimEtcd::Txn(const std::vector<EtcdCompare>& compares,
                           const std::vector<EtcdOp>& success, const std::vector<EtcdOp>& failure) {
  DUPLEX_ASSERT(available(), "a call reaches etcd only while it has quorum", compares.size());
  Expire();
  EtcdTxnResult out;
  out.succeeded = true;
  for (const EtcdCompare& c : compares) out.succeeded = out.succeeded && Holds(c);
  const std::vector<EtcdOp>& ops = out.succeeded ? success : failure;
  bool writes = false;
  for (const EtcdOp& op : ops) writes = writes || op.kind != EtcdOp::Kind::kRange;
  if (writes) ++revision_;
  for (const EtcdOp& op : ops) Apply(op, out);
  out.revision = revision_;
  return out;
}

int64_t SimEtcd::LeaseGrant(int ttl_s) {
  DUPLEX_ASSERT(available() && ttl_s > 0, "a grant reaches etcd with quorum", ttl_s);
  Expire();
  const int64_t id = ++next_lease_;
  leases_[id] = {ttl_s, sim_.now() + ttl_s * 1000 * kMs};
  return id;
}

int SimEtcd::LeaseKeepAlive(int64_t lease) {
  DUPLEX_ASSERT(available(), "a keepalive reaches etcd with quorum", lease);
  Expire();
  auto it = leases_.find(lease);
  if (it == leases_.end()) return 0;
  it->second.expires_us = sim_.now() + it->second.ttl_s * 1000 * kMs;
  return it->second.ttl_s;
}

void SimEtcd::LeaseRevoke(int64_t lease) {
  DUPLEX_ASSERT(available(), "a revoke reaches etcd with quorum", lease);
  Expire();
  Revoke(lease);
}

bool SimEtcd::LeaseAlive(int64_t lease) {
  Expire();
  return leases_.count(lease) > 0;
}

void SimEtcd::RenewAll(int64_t at_us) {
  for (auto& [id, lease] : leases_) lease.expires_us = at_us + lease.ttl_s * 1000 * kMs;
}

// Without a leader no lease is revoked; the leader elected when quorum returns renews
// them all, so a lease outlives a quorum loss.
void SimEtcd::LoseQuorum() {
  if (quorum_lost_) return;
  Expire();
  quorum_lost_ = true;
  sim_.trace.Line("etcd loses quorum");
}

void SimEtcd::RegainQuorum() {
  if (!quorum_lost_) return;
  quorum_lost_ = false;
  renew_pending_ = false;
  RenewAll(sim_.now());
  sim_.trace.Line("etcd has quorum again");
}

void SimEtcd::Elect(int64_t for_us) {
  if (quorum_lost_) return;
  Expire();
  unavailable_until_us_ = std::max(unavailable_until_us_, sim_.now() + for_us);
  renew_pending_ = true;
  sim_.trace.Line("etcd elects a leader for " + std::to_string(for_us / kMs) + " ms");
}

}  // namespace duplex::sim
