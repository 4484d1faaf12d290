#include "chaos/sim/elector.h"

#include "chaos/sim/fenced_store.h"

namespace duplex::sim {

SimElector::SimElector(SimContext& sim, Network& network, SimEtcd& etcd, std::string node,
                       std::string host, Deliver deliver)
    : sim_(sim),
      network_(network),
      etcd_(etcd),
      node_(std::move(node)),
      host_(std::move(host)),
      deliver_(std::move(deliver)) {}

void SimElector::Start() {
  ElectionOptions o;
  o.prefix = kEtcdPrefix;
  o.self_value = host_;
  o.lease_ttl_s = sim_.profile.lease_ttl_s;
  core_ = std::make_unique<ElectionCore>(o, sim_.now());
  outstanding_ = 0;
}

void SimElector::Stop() {
  core_.reset();
  outstanding_ = 0;
}

void SimElector::Tick() {
  if (!core_) return;
  if (std::optional<EtcdCall> call = core_->Next(sim_.now())) Send(*call);
}

void SimElector::Resign() {
  if (!core_) return;
  core_->Resign(sim_.now());
  Tick();
}

void SimElector::Send(const EtcdCall& call) {
  const uint64_t id = ++calls_;
  const int64_t sent_us = sim_.now();
  outstanding_ = id;
  network_.SendOrdered(node_, kEtcdNode, EtcdCallKindName(call.kind),
                       [this, call, id, sent_us] { Serve(call, id, sent_us); });
  const std::string what = EtcdCallKindName(call.kind);
  sim_.queue.After(kCallTimeoutMs * kMs, [this, id, what] {
    deliver_([this, id, what] {
      if (!core_ || outstanding_ != id) return;  // answered, or another life's call
      outstanding_ = 0;
      core_->OnFailure(what + " timed out", sim_.now());
    });
  });
}

// The answer goes back over the same connection; the core takes it only if it still waits
// for this call (a late answer after the timeout is dropped, as the client's is).
void SimElector::Answer(uint64_t id, const std::function<void(ElectionCore&)>& fn) {
  network_.SendOrdered(kEtcdNode, node_, "etcd answer", [this, id, fn] {
    deliver_([this, id, fn] {
      if (!core_ || outstanding_ != id) return;
      outstanding_ = 0;
      fn(*core_);
    });
  });
}

void SimElector::Serve(const EtcdCall& call, uint64_t id, int64_t sent_us) {
  if (!etcd_.available()) return;  // no quorum: nobody answers, the call times out
  switch (call.kind) {
    case EtcdCallKind::kGrant: {
      const int64_t lease = etcd_.LeaseGrant(call.ttl_s);
      const int ttl_s = call.ttl_s;
      return Answer(id, [this, lease, ttl_s, sent_us](ElectionCore& c) {
        c.OnGrant(lease, ttl_s, sent_us, sim_.now());
      });
    }
    case EtcdCallKind::kKeepAlive: {
      const int ttl_s = etcd_.LeaseKeepAlive(call.lease_id);
      return Answer(id, [this, ttl_s, sent_us](ElectionCore& c) {
        c.OnKeepAlive(ttl_s, sent_us, sim_.now());
      });
    }
    case EtcdCallKind::kCampaign:
      return Campaign(call, id, sent_us);
    case EtcdCallKind::kRevoke:
      etcd_.LeaseRevoke(call.lease_id);
      return Answer(id, [this](ElectionCore& c) { c.OnRevoked(sim_.now()); });
  }
}

// if create_revision(leader) == 0 then put leader = self under the lease else range leader.
// A put on a lease etcd no longer has fails the whole request, as in etcd.
void SimElector::Campaign(const EtcdCall& call, uint64_t id, int64_t sent_us) {
  if (!etcd_.LeaseAlive(call.lease_id)) {
    return Answer(id, [this](ElectionCore& c) {
      c.OnFailure("campaign: etcdserver: requested lease not found", sim_.now());
    });
  }
  EtcdCompare free;
  free.key = call.key;
  EtcdOp put{EtcdOp::Kind::kPut, call.key, call.value, call.lease_id};
  EtcdOp range{EtcdOp::Kind::kRange, call.key, "", 0};
  EtcdTxnResult txn = etcd_.Txn({free}, {put}, {range});
  CampaignResult result;
  result.won = txn.succeeded;
  if (txn.succeeded) {
    result.leader_create_revision = txn.revision;
    result.leader_value = call.value;
    result.leader_lease_id = call.lease_id;
  } else if (!txn.ranges.empty() && txn.ranges[0]) {
    result.leader_create_revision = txn.ranges[0]->create_revision;
    result.leader_value = txn.ranges[0]->value;
    result.leader_lease_id = txn.ranges[0]->lease;
  }
  if (result.won)
    sim_.trace.Line(node_ + " wins the leader key, term " + std::to_string(txn.revision));
  Answer(id,
         [this, result, sent_us](ElectionCore& c) { c.OnCampaign(result, sent_us, sim_.now()); });
}

}  // namespace duplex::sim
