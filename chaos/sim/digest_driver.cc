#include "chaos/sim/digest_driver.h"

#include <algorithm>

namespace duplex::sim {
namespace {

std::string ReplicaName(size_t index) { return index == 0 ? "a" : "b"; }

}  // namespace

void DigestDriver::Ask(const std::string& to, AdminRequest q) {
  network_.Send(node_, to, std::string(AdminOpName(q.op)) + "?", [this, to, q] {
    processes_.OnReplica(to, [this, to, q](ReplicaCore& c) {
      c.OnAdminRequest("host-" + to + "@" + node_, q, sim_.now());
    });
  });
}

void DigestDriver::Start() {
  if (!arbiter_) return;
  uint32_t schema = 2;
  bool marks = !sim_.profile.digest_by_hold;
  for (const char* name : {"a", "b"}) {
    auto rep = arbiter_->RecentReport(name, sim_.now());
    if (rep) schema = std::min(schema, rep->schema);
    marks = marks && rep && rep->marks;
  }
  size_t active = arbiter_->record().active == "b" ? 1 : 0;
  jobs_.push_back({DigestComparison(active, schema, marks), {}, 0, false});
  Pump(jobs_.size() - 1);
}

void DigestDriver::Pump(size_t index) {
  Job& job = jobs_[index];
  if (job.cancelled || !arbiter_ || !campaign_) return;
  DigestComparison& c = job.comparison;
  for (auto& q : c.Next(sim_.now() / kMs)) {
    uint64_t seq = ++questions_;
    std::string to = ReplicaName(q.replica);
    q.request.id = seq;
    Ask(to, q.request);
    job.asked.emplace(seq, std::move(q));
  }
  arbiter_->SetQuiesce(c.holding());
  if (c.verdict()) return Finish(index, *c.verdict());
  int64_t delay_ms = std::clamp<int64_t>(c.wake_ms() - sim_.now() / kMs, 1, 1000);
  uint64_t timer = ++job.timer;
  sim_.queue.After(delay_ms * kMs, [this, index, timer] {
    deliver_([this, index, timer] {
      if (jobs_[index].timer == timer) Pump(index);
    });
  });
}

void DigestDriver::OnAnswer(const std::string& from, const AdminReply& reply) {
  if (jobs_.empty() || jobs_.back().cancelled) return;
  Job& job = jobs_.back();
  auto it = job.asked.find(reply.id);
  if (it == job.asked.end() || ReplicaName(it->second.replica) != from) return;
  job.comparison.OnAnswer(it->second, reply, sim_.now() / kMs);
  Pump(jobs_.size() - 1);
}

void DigestDriver::Finish(size_t index, const Status& result) {
  jobs_[index].cancelled = true;
  if (arbiter_) arbiter_->SetQuiesce(false);
  if (campaign_) campaign_->OnWorkDone(WorkKind::kDigests, result);
}

void DigestDriver::CancelAll() {
  for (auto& job : jobs_) job.cancelled = true;
}

}  // namespace duplex::sim
