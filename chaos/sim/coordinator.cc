#include "chaos/sim/coordinator.h"

namespace duplex::sim {

Coordinator::Coordinator(SimContext& sim, Network& network, Processes& processes, Agents& agents)
    : sim_(sim),
      network_(network),
      processes_(processes),
      agents_(agents),
      config_(SimCluster()),
      host_(this),
      digests_(sim, network, processes, arbiter_, campaign_) {
  events_.KeepInMemory();
  network_.Place("coordinator", kCoordinatorHost);
}

// The simulated cluster as a configuration names it: hosts h1 and h2, replica a on h1 and b on
// h2 (the coordinator's host, h3, runs no agent). AgentLinks reads it.
ClusterConfig Coordinator::SimCluster() {
  ClusterConfig c;
  c.name = "sim";
  c.data_dir = "/sim";
  c.hosts_named = true;
  c.processor.version = kOldVersion;
  c.agent.heartbeat_ms = Agents::kHeartbeatMs;
  c.restart.restarts_max = 1000;
  for (const char* replica : {"a", "b"}) {
    const std::string host = HostOf(replica);
    c.hosts.push_back({host, "127.0." + host.substr(1) + ".1", ""});
    ReplicaConfig r;
    r.name = replica;
    r.host_name = host;
    r.host = c.hosts.back().address;
    c.replicas.push_back(r);
  }
  return c;
}

void Coordinator::Start() {
  ArbiterOptions ao;
  for (const char* name : {"a", "b"}) ao.replicas.push_back({name, name});
  ao.initial_version = kOldVersion;
  ao.restart.restarts_max = 1000;  // the restart policy is not under test: faults may crash often
  arbiter_ = std::make_unique<Arbiter>(ao, &records_);
  links_ = std::make_unique<AgentLinks>(config_);
  transitions_seen_ = 0;
  Status s = arbiter_->Recover(sim_.now());
  if (!s.ok()) violations_.push_back("coordinator: cannot recover: " + s.message());
  auto saved = records_.Get("campaign");
  if (saved.ok() && saved->has_value()) {
    auto record = CampaignFromJson(**saved);
    if (record.ok()) campaign_ = std::make_unique<Campaign>(*record, &host_, CampaignTimes());
  }
  sim_.trace.Line("coordinator started");
  Execute();
}

// A step that waits for something the faults made impossible (the upgraded replica
// became the active while it synced, say) gives up after its timeout: shorter than the
// daemons' minute so that a run settles within settle_ms.
CampaignOptions Coordinator::CampaignTimes() {
  CampaignOptions o;
  o.step_timeout_ms = 5000;
  return o;
}

void Coordinator::Stop() {
  sim_.trace.Line("coordinator killed");
  campaign_.reset();
  arbiter_.reset();
  links_.reset();
  digests_.CancelAll();
}

void Coordinator::Restart(int64_t down_us, bool torn) {
  down_us_ = down_us;
  if (torn) {
    kill_after_persist_ = true;  // at its next decision, torn
  } else {
    RestartAfter(down_us_);
  }
}

// Kills the coordinator now and starts a new one on the same record after `delay_us`.
void Coordinator::RestartAfter(int64_t delay_us) {
  Stop();
  sim_.queue.After(delay_us, [this] {
    if (!arbiter_) Start();
  });
}

void Coordinator::Execute() {
  if (!arbiter_) return;
  CountTransitions();  // before a torn kill: the promotion is on the record already
  if (kill_after_persist_ && records_.writes() != writes_acted_on_) {
    // Killed between recording a decision and carrying it out.
    kill_after_persist_ = false;
    sim_.trace.Line("coordinator killed after persisting, before acting");
    RestartAfter(down_us_);
    return;
  }
  writes_acted_on_ = records_.writes();
  for (auto& action : arbiter_->TakeActions()) {
    if (auto* send = std::get_if<SendAssignment>(&action)) {
      Assignment a = send->assignment;
      std::string to = send->replica;
      network_.Send("coordinator", to, "assignment e" + std::to_string(a.epoch), [this, to, a] {
        processes_.OnReplica(to, [this, a](ReplicaCore& c) { c.OnAssignment(a, sim_.now()); });
      });
    } else if (auto* start = std::get_if<StartReplica>(&action)) {
      AskStart(start->replica);
    } else if (auto* stop = std::get_if<StopReplica>(&action)) {
      links_->Stop(stop->replica);  // its exit comes back from its agent, then a restart
    }
  }
  SendDesired();
  events_.Observe(sim_.now(), *arbiter_, campaign_ ? &campaign_->record() : nullptr);
}

void Coordinator::CountTransitions() {
  const std::vector<TransitionEvent>& all = arbiter_->transitions();
  for (; transitions_seen_ < all.size(); ++transitions_seen_) {
    ++transitions_[all[transitions_seen_].kind];
  }
}

// As coordinator.cc: the host's desired state asks for a fresh instance (the package chosen
// as Upgrades::PackageRefFor does), and the arbiter counts the start as under way; the
// agent reports its pid, or its failure as an exit.
void Coordinator::AskStart(const std::string& replica) {
  std::string version = arbiter_->VersionOf(replica);
  if (version.empty()) version = kOldVersion;
  const std::string package = version == kOldVersion ? "" : kPackageName;
  links_->Start(replica, package, version);
  arbiter_->OnProcessStarted(replica, 0, sim_.now());
}

void Coordinator::SendDesired() {
  for (const auto& [route, desired] : links_->TakeOutgoing()) {
    const std::string host = desired.host;
    network_.SendOrdered("coordinator", route, "desired g" + std::to_string(desired.generation),
                         [this, host, desired] { agents_.OnDesired(host, desired); });
  }
}

// As coordinator.cc's OnAgentFrame: the report's process events go to the arbiter.
void Coordinator::OnAgentReport(const std::string& route, const AgentReport& report) {
  if (!arbiter_) return;
  const int64_t now = sim_.now();
  for (const ProcessEvent& e : links_->OnReport(route, report, now)) {
    if (e.kind == ProcessEvent::Kind::kExited) {
      arbiter_->OnProcessExited(e.replica, now);
    } else if (e.kind == ProcessEvent::Kind::kStarted) {
      arbiter_->OnProcessStarted(e.replica, e.pid, now);  // adopted: it ran before us
    } else {
      arbiter_->OnProcessPid(e.replica, e.pid);
    }
  }
  Execute();
}

// A status from a pid other than the one the replica's agent reported is refused, as
// coordinator.cc's Impostor does.
void Coordinator::OnStatus(const StatusReport& status) {
  if (!arbiter_) return;
  const int32_t owned = links_->KnownPid(status.replica);
  if (owned != 0 && owned != status.pid) {
    sim_.trace.Line("refused status of " + status.replica + " from pid " +
                    std::to_string(status.pid) + " (its process is " + std::to_string(owned) + ")");
    return;
  }
  arbiter_->OnStatus(status, sim_.now());
  Execute();
}

void Coordinator::OnDigestAnswer(const std::string& from, const AdminReply& reply) {
  digests_.OnAnswer(from, reply);
}

void Coordinator::Tick() {
  if (!arbiter_) return;
  arbiter_->OnTick(sim_.now());
  if (campaign_ && !campaign_->record().Done()) campaign_->Tick(sim_.now() / kMs);
  Execute();
}

// The operator adds the package and starts the campaign: the package goes to every host
// first (the campaign's distribution step, which the simulated campaign does not have yet),
// unless the profile starts without it.
void Coordinator::StartCampaign() {
  if (!arbiter_ || campaign_) return;
  if (!sim_.profile.distribute) return BeginCampaign();
  Distribute();
}

bool Coordinator::Holds(const std::string& host) const {
  const AgentReport* report = links_ ? links_->LastReport(host) : nullptr;
  if (report == nullptr) return false;
  for (const StoredPackage& p : report->packages) {
    if (p.name == kPackageName && p.version == kNewVersion) return true;
  }
  return false;
}

// Every 100 ms, while the coordinator runs: each host whose agent does not report the
// package is sent it (again: a part may be lost); once both hold it the campaign begins.
void Coordinator::Distribute() {
  sim_.queue.Every(100 * kMs, [this] {
    if (!arbiter_) return true;  // down: the next coordinator goes on with it
    if (campaign_) return false;
    if (Holds("h1") && Holds("h2")) {
      BeginCampaign();
      return false;
    }
    for (const char* host : {"h1", "h2"}) {
      if (Holds(host)) continue;
      PackagePart part{kPackageName, kNewVersion, "", 0, 1, "x"};
      network_.SendOrdered("coordinator", AgentNode(host), "package",
                           [this, host, part] { agents_.OnPackage(host, part); });
    }
    return true;
  });
}

void Coordinator::BeginCampaign() {
  Profile& p = sim_.profile;
  CampaignRecord r;
  r.id = 1;
  r.from = kOldVersion;
  r.to = kNewVersion;
  r.soak_ms = sim_.rng.Uniform(200, 800);
  r.auto_finalize = p.auto_finalize;
  r.state = CampaignState::kRunning;
  (void)records_.Put("campaign", CampaignToJson(r));
  campaign_ = std::make_unique<Campaign>(r, &host_, CampaignTimes());
  sim_.trace.Line("campaign started" + (p.variant.empty() ? "" : " (" + p.variant + ")"));
  if (p.abort > 0) {
    sim_.queue.After(sim_.rng.Uniform(100, 2500) * kMs, [this] {
      if (campaign_) {
        sim_.trace.Line("abort: " + campaign_->Abort("aborted by the operator").message());
      }
    });
  }
  if (!p.auto_finalize) FinalizeByHand();
}

// The operator finalizes the campaign once it awaits it, checking every 100 ms.
void Coordinator::FinalizeByHand() {
  sim_.queue.Every(100 * kMs, [this] {
    if (!campaign_) return true;  // the coordinator is down: try again later
    if (campaign_->record().Done()) return false;
    if (campaign_->record().state == CampaignState::kAwaitingFinalize) {
      sim_.trace.Line("finalize: " + campaign_->Finalize().message());
    }
    return true;
  });
}

// --- Host: the campaign's hands ----------------------------------------------------------

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
void Host::Persist(const CampaignRecord& record) {
  (void)c_->records_.Put("campaign", CampaignToJson(record));
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
void Host::StartWork(WorkKind kind) {
  if (kind == WorkKind::kDigests) return c_->digests_.Start();
  // Verify and backup touch files the simulation does not have: they succeed.
  c_->sim_.queue.After(kMs, [c = c_, kind] {
    if (c->campaign_) c->campaign_->OnWorkDone(kind, Status::Ok());
  });
}

}  // namespace duplex::sim
