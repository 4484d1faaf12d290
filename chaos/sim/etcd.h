// The simulated etcd: one linearizable key-value store (every call takes effect at one
// instant of simulated time, in the order the calls reach it) with etcd's global revision,
// create and mod revisions per key, leases with TTLs (an expired lease deletes its keys) and
// transactions comparing create_revision or value. It can lose quorum: every call then goes
// unanswered until quorum returns, when a newly elected etcd leader renews every lease for a
// full TTL (etcd's lessor Promote). The three members are not modelled one by one: a member
// lost with quorum kept is a short election at most. Owned by the World; single-threaded.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "chaos/sim/context.h"

namespace duplex::sim {

struct EtcdKeyValue {
  std::string key, value;
  int64_t create_revision = 0, mod_revision = 0;
  int64_t lease = 0;  // 0: none
};

// One compare of a txn: the key's create_revision (0 when absent) or its value.
struct EtcdCompare {
  enum class Target { kCreateRevision, kValue };
  std::string key;
  Target target = Target::kCreateRevision;
  int64_t create_revision = 0;
  std::string value;
};

struct EtcdOp {
  enum class Kind { kPut, kDelete, kRange };
  Kind kind = Kind::kRange;
  std::string key, value;
  int64_t lease = 0;  // kPut: attach the key to this lease
};

struct EtcdTxnResult {
  bool succeeded = false;
  int64_t revision = 0;                             // the store's revision after the txn
  std::vector<std::optional<EtcdKeyValue>> ranges;  // one per kRange op that ran
};

class SimEtcd {
 public:
  explicit SimEtcd(SimContext& sim) : sim_(sim) {}

  // Whether etcd has quorum: it answers calls.
  bool available() const { return !quorum_lost_ && unavailable_until_us_ <= sim_.now(); }
  int64_t revision() const { return revision_; }

  // The calls, each at the current instant; the caller checks available() first.
  std::optional<EtcdKeyValue> Range(const std::string& key);
  EtcdTxnResult Txn(const std::vector<EtcdCompare>& compares, const std::vector<EtcdOp>& success,
                    const std::vector<EtcdOp>& failure);
  // A new lease's id.
  int64_t LeaseGrant(int ttl_s);
  // The lease's TTL after the renewal, 0 when it has expired (or never was).
  int LeaseKeepAlive(int64_t lease);
  void LeaseRevoke(int64_t lease);
  // Whether the lease is still granted (a put attached to a lease etcd no longer has fails).
  bool LeaseAlive(int64_t lease);

  // Faults: quorum lost until RegainQuorum; an election among the members for `for_us`
  // (a member that led was killed), after which the new etcd leader renews every lease.
  void LoseQuorum();
  void RegainQuorum();
  void Elect(int64_t for_us);

 private:
  struct Lease {
    int ttl_s = 0;
    int64_t expires_us = 0;
  };

  // Leases past their TTL are revoked (as etcd's leader does), before any call is served
  // (lazily: nobody sees a key between two calls).
  void Expire();
  void Revoke(int64_t lease);
  void Apply(const EtcdOp& op, EtcdTxnResult& out);
  bool Holds(const EtcdCompare& compare) const;
  // The leader elected at at_us renews every lease for its TTL.
  void RenewAll(int64_t at_us);

  SimContext& sim_;
  int64_t revision_ = 1;  // a new etcd cluster's revision
  int64_t next_lease_ = 0x7000;
  std::map<std::string, EtcdKeyValue> keys_;
  std::map<int64_t, Lease> leases_;
  bool quorum_lost_ = false;
  int64_t unavailable_until_us_ = 0;
  bool renew_pending_ = false;  // an election ends at unavailable_until_us_ and renews
};

}  // namespace duplex::sim
