#include "upgrade_coordinator/etcd/elector.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <utility>

#include "common/clock.h"

namespace duplex {
namespace {

// The loop looks at its view at least this often, so that a lease running out (acting ends
// with no answer from etcd) is logged promptly.
constexpr int64_t kLookUsMax = 100 * 1000;

CampaignResult ToCampaignResult(const EtcdTxnResult& txn, const std::string& value,
                                int64_t lease_id) {
  if (txn.succeeded) return {true, txn.revision, value, lease_id};
  if (txn.ranges.empty() || txn.ranges.front().empty()) return {};
  const EtcdKeyValue& leader = txn.ranges.front().front();
  return {false, leader.create_revision, leader.value, leader.lease};
}

}  // namespace

StatusOr<std::unique_ptr<Elector>> Elector::Start(ElectorOptions options) {
  if (options.election.prefix.empty() || options.election.self_value.empty()) {
    return InvalidArgument("elector: prefix and self_value are required");
  }
  if (options.election.lease_ttl_s < 1) {
    return InvalidArgument("elector: lease_ttl_s must be at least 1, not " +
                           std::to_string(options.election.lease_ttl_s));
  }
  options.client.read_timeout_ms = options.read_timeout_ms;
  StatusOr<std::unique_ptr<EtcdClient>> client = EtcdClient::Create(options.client);
  if (!client.ok()) return client.status();
  std::unique_ptr<Elector> elector(new Elector(std::move(options), std::move(client).value()));
  elector->thread_ = std::thread([raw = elector.get()] { raw->Run(); });
  return elector;
}

Elector::Elector(ElectorOptions options, std::unique_ptr<EtcdClient> client)
    : options_(std::move(options)), client_(std::move(client)), core_(options_.election, NowUs()) {}

Elector::~Elector() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    core_.Resign(NowUs());
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

LeaderView Elector::View() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return core_.View(NowUs());
}

void Elector::Resign() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    core_.Resign(NowUs());
  }
  spdlog::info("elector {}: resigning", options_.name);
  wake_.notify_all();
}

void Elector::Run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    int64_t now_us = NowUs();
    std::optional<EtcdCall> call = core_.Next(now_us);
    if (stopping_) {
      // Only the revoke of a resignation is still worth sending; then the thread ends.
      if (call && call->kind == EtcdCallKind::kRevoke) {
        lock.unlock();
        Execute(*call);
        lock.lock();
      } else if (call) {
        core_.OnFailure("elector stopping", now_us);
      }
      break;
    }
    if (call) {
      lock.unlock();
      Execute(*call);
      lock.lock();
    } else {
      int64_t wait_us = std::min(core_.WakeUs(now_us) - now_us, kLookUsMax);
      wake_.wait_for(lock, std::chrono::microseconds(wait_us));
    }
    LogChanges(core_.View(NowUs()));
  }
}

void Elector::Execute(const EtcdCall& call) {
  int64_t sent_us = NowUs();
  Status failure = Exchange(call, sent_us);
  spdlog::debug("elector {}: {} (lease {}) took {} ms: {}", options_.name,
                EtcdCallKindName(call.kind), call.lease_id, (NowUs() - sent_us) / 1000,
                failure.ok() ? "ok" : failure.ToString());
  if (failure.ok()) return;
  std::lock_guard<std::mutex> lock(mutex_);
  core_.OnFailure(std::string(EtcdCallKindName(call.kind)) + ": " + failure.message(), NowUs());
}

Status Elector::Exchange(const EtcdCall& call, int64_t sent_us) {
  switch (call.kind) {
    case EtcdCallKind::kGrant: {
      StatusOr<EtcdLease> lease = client_->LeaseGrant(call.ttl_s);
      if (!lease.ok()) return lease.status();
      std::lock_guard<std::mutex> lock(mutex_);
      core_.OnGrant(lease->id, lease->ttl_s, sent_us, NowUs());
      return Status::Ok();
    }
    case EtcdCallKind::kKeepAlive: {
      StatusOr<int> ttl_s = client_->LeaseKeepAlive(call.lease_id);
      if (!ttl_s.ok()) return ttl_s.status();
      std::lock_guard<std::mutex> lock(mutex_);
      core_.OnKeepAlive(*ttl_s, sent_us, NowUs());
      return Status::Ok();
    }
    case EtcdCallKind::kCampaign: {
      EtcdTxn txn;
      txn.compares.push_back({EtcdCompare::Target::kCreateRevision, call.key, 0, ""});
      txn.success.push_back({EtcdOp::Kind::kPut, call.key, call.value, call.lease_id, false});
      txn.failure.push_back({EtcdOp::Kind::kRange, call.key, "", 0, false});
      StatusOr<EtcdTxnResult> result = client_->Txn(txn);
      if (!result.ok()) return result.status();
      if (result->succeeded && result->revision <= 0) {
        return Corruption("etcd " + client_->current_endpoint() +
                          ": a txn that succeeded came without its revision");
      }
      std::lock_guard<std::mutex> lock(mutex_);
      core_.OnCampaign(ToCampaignResult(*result, call.value, call.lease_id), sent_us, NowUs());
      return Status::Ok();
    }
    case EtcdCallKind::kRevoke: {
      Status revoked = client_->LeaseRevoke(call.lease_id);
      // A lease that is gone already (expired) is as good as revoked.
      if (!revoked.ok() && revoked.code() != Code::kNotFound) return revoked;
      std::lock_guard<std::mutex> lock(mutex_);
      core_.OnRevoked(NowUs());
      return Status::Ok();
    }
  }
  return Internal("unknown etcd call");
}

void Elector::LogChanges(const LeaderView& now) {
  const std::string& name = options_.name;
  if (now.etcd_reachable != logged_.etcd_reachable) {
    if (now.etcd_reachable) {
      spdlog::info("elector {}: etcd reachable", name);
    } else {
      spdlog::warn("elector {}: etcd unreachable: {}", name, now.etcd_error);
    }
  }
  if (now.leader_value != logged_.leader_value || now.term != logged_.term) {
    spdlog::info("elector {}: leader is {} (term {})", name,
                 now.leader_value.empty() ? "unknown" : now.leader_value, now.term);
  }
  if (now.acting != logged_.acting) {
    if (now.acting) {
      spdlog::info("elector {}: acting as leader (term {})", name, now.term);
    } else {
      spdlog::warn("elector {}: no longer acting (term {}){}", name, logged_.term,
                   now.etcd_error.empty() ? "" : ": " + now.etcd_error);
    }
  }
  logged_ = now;
}

}  // namespace duplex
