// The simulated coordinator's campaign hands (Host) and the operator's requests it serves.
#include "chaos/sim/coordinator.h"
#include "common/fatal.h"

namespace duplex::sim {

std::string Host::ActiveName() const { return c_->arbiter_->record().active; }
std::string Host::OtherName(const std::string& replica) const { return replica == "a" ? "b" : "a"; }
std::optional<StatusReport> Host::Report(const std::string& replica) const {
  return c_->arbiter_->RecentReport(replica, c_->sim_.now());
}
bool Host::InSync(const std::string& replica) const {
  return c_->arbiter_->StandbyInSync(replica, c_->sim_.now());
}
std::string Host::AssignedVersion(const std::string& replica) const {
  return c_->arbiter_->VersionOf(replica);
}
uint64_t Host::Starts(const std::string& replica) const {
  const auto& views = c_->arbiter_->replicas();
  auto it = views.find(replica);
  return it == views.end() ? 0 : it->second.starts;
}
// As the daemon's Upgrades: a campaign step that cannot be recorded must not act.
void Host::Persist(const CampaignRecord& record) {
  Status s = c_->store()->Put("campaign", CampaignToJson(record));
  if (!s.ok()) Fatal(Status(s.code(), "cannot persist the campaign: " + s.message()));
  c_->sim_.trace.Line("campaign " + Name(record.state) + " " + Name(record.phase));
}
void Host::Isolate(const std::string& replica, bool isolated) {
  c_->arbiter_->SetIsolated(replica, isolated);
}
void Host::Reload(const std::string& replica, const std::string& version) {
  c_->arbiter_->SetReplicaVersion(replica, version);
  if (c_->sim_.Has(Mutant::kEnableFlagsEarly)) c_->arbiter_->SetClusterVersion(version);
}
Status Host::Switchover() { return c_->arbiter_->RequestSwitchover(c_->sim_.now(), true); }
void Host::SetClusterVersion(const std::string& version) {
  c_->arbiter_->SetClusterVersion(version);
}
void Host::SetLock(bool held) { c_->arbiter_->SetLock(held); }
// Verify and backup touch files the simulation does not have: they succeed, to the campaign
// of the term that asked.
void Host::StartWork(WorkKind kind) {
  if (kind == WorkKind::kDigests) return c_->digests_.Start();
  c_->sim_.queue.After(kMs, [c = c_, kind, term_life = c_->term_life_] {
    c->Deliver([c, kind, term_life] {
      c->Guard([c, kind, term_life] {
        if (c->term_life_ == term_life && c->campaign_)
          c->campaign_->OnWorkDone(kind, Status::Ok());
      });
    });
  });
}

// --- The operator's requests ---------------------------------------------------------------

bool Coordinator::Holds(const std::string& host) const {
  const AgentReport* report = links_ ? links_->LastReport(host) : nullptr;
  if (report == nullptr) return false;
  for (const StoredPackage& p : report->packages) {
    if (p.name == kPackageName && p.version == kNewVersion) return true;
  }
  return false;
}

// Each host whose agent does not report the package is sent it (again: a part may be lost).
bool Coordinator::Distribute() {
  if (!up_ || frozen_until_ > sim_.now() || !arbiter_) return false;
  bool all = true;
  for (const char* host : {"h1", "h2"}) {
    if (Holds(host)) continue;
    all = false;
    PackagePart part{kPackageName, kNewVersion, "", 0, 1, "x", ""};
    network_.SendOrdered(node_, AgentNode(host), "package",
                         [this, host, part] { agents_.OnPackage(host, part); });
  }
  return all;
}

void Coordinator::BeginCampaign(CampaignRecord record) {
  Guard([&] {
    if (frozen_until_ > sim_.now() || !Leading() || campaign_) return;
    // Unrecorded, it would not survive this term: the term ends (the operator tries again).
    Status s = store()->Put("campaign", CampaignToJson(record));
    if (!s.ok()) Fatal(Status(s.code(), "cannot persist the campaign: " + s.message()));
    campaign_ = std::make_unique<Campaign>(record, &campaign_host_, CampaignTimes());
    sim_.trace.Line("campaign started" +
                    (sim_.profile.variant.empty() ? "" : " (" + sim_.profile.variant + ")"));
  });
}

void Coordinator::AbortCampaign() {
  Guard([&] {
    if (frozen_until_ > sim_.now() || !Leading() || !campaign_) return;
    sim_.trace.Line("abort: " + campaign_->Abort("aborted by the operator").message());
  });
}

void Coordinator::FinalizeCampaign() {
  Guard([&] {
    if (frozen_until_ > sim_.now() || !Leading() || !campaign_) return;
    if (campaign_->record().state == CampaignState::kAwaitingFinalize) {
      sim_.trace.Line("finalize: " + campaign_->Finalize().message());
    }
  });
}

}  // namespace duplex::sim
