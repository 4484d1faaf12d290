#include "chaos/sim/coordinators.h"

namespace duplex::sim {

Coordinators::Coordinators(SimContext& sim, Network& network, Processes& processes, Agents& agents,
                           SimEtcd& etcd)
    : sim_(sim) {
  const bool elected = sim.coordinator_hosts.size() > 1;
  for (const std::string& host : sim.coordinator_hosts) {
    all_.push_back(std::make_unique<Coordinator>(sim, network, processes, agents,
                                                 elected ? &etcd : nullptr, shared_, host));
  }
}

Coordinator* Coordinators::leader() {
  return const_cast<Coordinator*>(static_cast<const Coordinators*>(this)->leader());
}

const Coordinator* Coordinators::leader() const {
  for (const auto& c : all_) {
    if (c->arbiter() && c->Acting()) return c.get();
  }
  return nullptr;
}

const Arbiter* Coordinators::arbiter() const {
  const Coordinator* c = leader();
  return c ? c->arbiter() : nullptr;
}

const Campaign* Coordinators::campaign() const {
  const Coordinator* c = leader();
  return c ? c->campaign() : nullptr;
}

Coordinator* Coordinators::on(const std::string& host) {
  for (auto& c : all_) {
    if (c->host() == host) return c.get();
  }
  return nullptr;
}

Coordinator* Coordinators::at(const std::string& node) {
  for (auto& c : all_) {
    if (c->node() == node) return c.get();
  }
  return nullptr;
}

void Coordinators::StartAll() {
  for (auto& c : all_) c->Start();
}

void Coordinators::HealAll() {
  shared_.memory.SetFull(false);
  for (auto& c : all_) {
    c->Thaw();
    c->Start();
  }
}

void Coordinators::Tick() {
  for (auto& c : all_) c->Tick();
  CheckOneActs();
}

// Simulated time is every process's clock: two coordinators whose elections both say they
// act at the same instant break what the leases promise (a frozen one counts: it would act
// on waking if its election still said so).
void Coordinators::CheckOneActs() {
  const Coordinator* acting = nullptr;
  for (const auto& c : all_) {
    if (!c->Acting()) continue;
    if (acting != nullptr && shared_.violations.size() < 20) {
      shared_.violations.push_back("one-coordinator-per-term: " + acting->host() + " and " +
                                   c->host() + " both act at " + std::to_string(sim_.now()) +
                                   " us");
    }
    acting = c.get();
  }
}

void Coordinators::OnStatus(const std::string& node, const StatusReport& status) {
  if (Coordinator* c = at(node)) c->OnStatus(status);
}

void Coordinators::OnAgentReport(const std::string& node, const std::string& route,
                                 const AgentReport& report) {
  if (Coordinator* c = at(node)) c->OnAgentReport(route, report);
}

void Coordinators::OnDigestAnswer(const std::string& node, const std::string& from,
                                  const AdminReply& reply) {
  if (Coordinator* c = at(node)) c->OnDigestAnswer(from, reply);
}

// --- The operator ----------------------------------------------------------------------------

CampaignRecord Coordinators::NewCampaign() {
  CampaignRecord r;
  r.id = 1;
  r.from = kOldVersion;
  r.to = kNewVersion;
  r.soak_ms = sim_.rng.Uniform(200, 800);
  r.auto_finalize = sim_.profile.auto_finalize;
  r.state = CampaignState::kRunning;
  return r;
}

// Every 100 ms until the campaign is on the leader's record: the package goes to every host
// first (unless the profile starts without it), then the campaign begins. With no leader,
// or a request that fails, the operator tries again.
void Coordinators::StartCampaign() {
  sim_.queue.Every(100 * kMs, [this] {
    Coordinator* c = leader();
    if (c == nullptr) return true;
    if (c->campaign()) {
      Operate();
      return false;
    }
    if (sim_.profile.distribute && !c->Distribute()) return true;
    c->BeginCampaign(NewCampaign());
    return true;
  });
}

void Coordinators::Operate() {
  if (campaign_seen_) return;
  campaign_seen_ = true;
  if (sim_.profile.abort > 0) {
    sim_.queue.After(sim_.rng.Uniform(100, 2500) * kMs, [this] {
      if (Coordinator* c = leader()) c->AbortCampaign();
    });
  }
  if (!sim_.profile.auto_finalize) FinalizeByHand();
}

// The operator finalizes the campaign once it awaits it, checking every 100 ms.
void Coordinators::FinalizeByHand() {
  sim_.queue.Every(100 * kMs, [this] {
    Coordinator* c = leader();
    if (c == nullptr || !c->campaign()) return true;  // no leader now: try again later
    if (c->campaign()->record().Done()) return false;
    c->FinalizeCampaign();
    return true;
  });
}

}  // namespace duplex::sim
