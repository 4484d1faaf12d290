#include "chaos/sim/coordinator.h"

#include "chaos/sim/fatal_handler.h"

namespace duplex::sim {

Coordinator::Coordinator(SimContext& sim, Network& network, Processes& processes, Agents& agents,
                         SimEtcd* etcd, CoordinatorShared& shared, const std::string& host)
    : sim_(sim),
      network_(network),
      processes_(processes),
      agents_(agents),
      etcd_(etcd),
      shared_(shared),
      host_(host),
      node_(CoordinatorNode(host)),
      config_(SimCluster()),
      campaign_host_(this),
      digests_(sim, network, processes, node_, arbiter_, campaign_,
               [this](std::function<void()> fn) { Deliver([this, fn] { Guard(fn); }); }) {
  network_.Place(node_, host_);
  if (etcd_) {
    elector_ = std::make_unique<SimElector>(sim, network, *etcd, node_, host_,
                                            [this](std::function<void()> fn) { Deliver(fn); });
  }
}

// The simulated cluster as a configuration names it: hosts h1 and h2, replica a on h1 and b on
// h2 (h3 runs no agent). AgentLinks reads it.
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

// A step that waits for something the faults made impossible (the upgraded replica
// became the active while it synced, say) gives up after its timeout: shorter than the
// daemons' minute so that a run settles within settle_ms.
CampaignOptions Coordinator::CampaignTimes() {
  CampaignOptions o;
  o.step_timeout_ms = 5000;
  return o;
}

bool Coordinator::Acting() const {
  if (!up_) return false;
  return elector_ ? elector_->Acting() : true;
}

std::string Coordinator::LeaderSeen() const {
  if (!up_) return "";
  return elector_ ? elector_->View().leader_value : host_;
}

void Coordinator::Start() {
  if (up_) return;
  up_ = true;
  frozen_until_ = 0;
  ++life_;
  sim_.trace.Line(node_ + " started");
  if (elector_) {
    elector_->Start();
    elector_->Tick();
  } else {
    Guard([this] { Leading(); });  // the embedded coordinator leads at once
  }
}

void Coordinator::Kill(const std::string& why) {
  if (!up_) return;
  sim_.trace.Line(node_ + " " + why);
  DropLeadership(why);
  if (elector_) elector_->Stop();
  up_ = false;
  frozen_until_ = 0;
  held_.clear();
  kill_after_persist_ = false;
}

void Coordinator::Restart(int64_t down_us, bool torn) {
  down_us_ = down_us;
  if (torn) {
    kill_after_persist_ = true;  // at its next decision, torn
    return;
  }
  Kill("killed");
  sim_.queue.After(down_us_, [this] { Start(); });
}

void Coordinator::Freeze(int64_t until_us) {
  if (!up_) return;
  frozen_until_ = std::max(frozen_until_, until_us);
  sim_.queue.At(frozen_until_, [this, life = life_] {
    if (life_ == life) Flush();
  });
}

void Coordinator::Thaw() {
  frozen_until_ = 0;
  Flush();
}

// What reached a frozen process waits in its sockets, in order, and is read at the thaw
// before anything that arrives later (its links are ordered: an agent's older report read
// after a newer one would bring back a pid that is gone).
void Coordinator::Deliver(std::function<void()> fn) {
  if (!up_) return;  // nobody listens: lost
  if (frozen_until_ > sim_.now() || !held_.empty()) {
    held_.push_back(std::move(fn));
    return;
  }
  fn();
}

void Coordinator::Flush() {
  while (up_ && frozen_until_ <= sim_.now() && !held_.empty()) {
    std::function<void()> fn = std::move(held_.front());
    held_.pop_front();
    fn();
  }
}

// As the daemon's loop does (its Fatal handler throws for kDurability): the coordinator
// drops its leader state and steps down, so that a coordinator that can write leads.
void Coordinator::Guard(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const ProcessDied& died) {
    const bool fenced = died.why.find("leadership lost") != std::string::npos;
    if (fenced && Acting()) {
      shared_.violations.push_back("one-coordinator-per-term: " + host_ + " acts in term " +
                                   std::to_string(term_) +
                                   " but its write was fenced: " + died.why);
    }
    DropLeadership("durable write failed: " + died.why);
    if (elector_) elector_->Resign();
  }
}

void Coordinator::Tick() {
  if (!up_ || frozen_until_ > sim_.now()) return;
  if (elector_) elector_->Tick();
  Guard([this] {
    if (!Leading()) return;
    arbiter_->OnTick(sim_.now());
    if (campaign_ && !campaign_->record().Done()) campaign_->Tick(sim_.now() / kMs);
    Execute();
  });
}

bool Coordinator::Leading() {
  const bool acting = Acting();
  const uint64_t term = elector_ ? elector_->View().term : 0;
  // The stale-leader mutant keeps what it has: only a fenced write ends its term.
  if (arbiter_ && !acting && !sim_.Has(Mutant::kStaleLeader)) {
    DropLeadership("its lease is no longer surely valid");
  }
  if (arbiter_ && term != term_ && acting) {
    DropLeadership("the term changed to " + std::to_string(term));
  }
  if (acting && !arbiter_) BecomeLeader();
  return arbiter_ != nullptr;
}

RecordStore* Coordinator::store() {
  if (fenced_) return fenced_.get();
  return &shared_.memory;
}

uint64_t Coordinator::writes() const {
  return fenced_ ? fenced_->writes() : shared_.memory.writes();
}

// A new term: the leader state is built from the record alone (nothing of an earlier term
// is trusted), on a store fenced by this term.
void Coordinator::BecomeLeader() {
  term_ = elector_ ? elector_->View().term : 0;
  ++term_life_;
  if (etcd_) fenced_ = std::make_unique<FencedStore>(*etcd_, network_, node_, term_);
  ArbiterOptions ao;
  for (const char* name : {"a", "b"}) ao.replicas.push_back({name, name});
  ao.initial_version = kOldVersion;
  ao.restart.restarts_max = 1000;  // the restart policy is not under test: faults crash often
  arbiter_ = std::make_unique<Arbiter>(ao, store());
  links_ = std::make_unique<AgentLinks>(config_);
  links_->SetTerm(term_);  // the agents follow the highest term they have seen
  transitions_seen_ = 0;
  writes_acted_on_ = writes();
  Note(true, "");
  Status s = arbiter_->Recover(sim_.now());
  auto saved = s.ok() ? store()->Get("campaign") : StatusOr<std::optional<std::string>>(s);
  if (!saved.ok()) {
    if (!elector_) shared_.violations.push_back("coordinator: cannot recover: " + s.message());
    DropLeadership("cannot recover: " + saved.status().message());
    if (elector_) elector_->Resign();
    return;
  }
  if (saved->has_value()) {
    auto record = CampaignFromJson(**saved);
    if (record.ok()) {
      campaign_ = std::make_unique<Campaign>(*record, &campaign_host_, CampaignTimes());
    }
  }
  Execute();
}

void Coordinator::DropLeadership(const std::string& why) {
  if (!arbiter_) return;
  Note(false, why);
  campaign_.reset();
  arbiter_.reset();
  links_.reset();
  fenced_.reset();
  digests_.CancelAll();
  ++term_life_;
}

// The leadership events, as the daemon's event log writes them; and the invariant: one
// coordinator per term, and never two acting at once.
void Coordinator::Note(bool acting, const std::string& why) {
  sim_.trace.Line(node_ + (acting ? " leads, term " : " stops leading, term ") +
                  std::to_string(term_) + (why.empty() ? "" : ": " + why));
  nlohmann::json e = {{"t_us", sim_.now()},
                      {"kind", "leadership"},
                      {"coordinator", host_},
                      {"term", term_},
                      {"acting", acting}};
  if (!why.empty()) e["reason"] = why;
  shared_.leadership.push_back(e);
  if (!acting) return;
  auto [holder, fresh] = shared_.term_holder.emplace(term_, host_);
  if (!fresh && holder->second != host_) {
    shared_.violations.push_back("one-coordinator-per-term: " + host_ + " and " + holder->second +
                                 " both acted in term " + std::to_string(term_));
  }
}

void Coordinator::Execute() {
  if (!arbiter_) return;
  CountTransitions();  // before a torn kill: the promotion is on the record already
  if (kill_after_persist_ && writes() != writes_acted_on_) {
    // Killed between recording a decision and carrying it out.
    kill_after_persist_ = false;
    sim_.trace.Line(node_ + " killed after persisting, before acting");
    Kill("killed");
    sim_.queue.After(down_us_, [this] { Start(); });
    return;
  }
  writes_acted_on_ = writes();
  std::vector<ArbiterAction> actions = arbiter_->TakeActions();
  if (!actions.empty()) Acts();
  for (auto& action : actions) {
    if (auto* send = std::get_if<SendAssignment>(&action)) {
      Assignment a = send->assignment;
      a.coordinator_term = term_;  // the replicas ignore a term below the highest they saw
      std::string to = send->replica;
      network_.Send(node_, to, "assignment e" + std::to_string(a.epoch), [this, to, a] {
        processes_.OnReplica(to, [this, a](ReplicaCore& c) { c.OnAssignment(a, sim_.now()); });
      });
    } else if (auto* start = std::get_if<StartReplica>(&action)) {
      AskStart(start->replica);
    } else if (auto* stop = std::get_if<StopReplica>(&action)) {
      links_->Stop(stop->replica);  // its exit comes back from its agent, then a restart
    }
  }
  SendDesired();
  shared_.events.Observe(sim_.now(), *arbiter_, campaign_ ? &campaign_->record() : nullptr);
}

void Coordinator::CountTransitions() {
  const std::vector<TransitionEvent>& all = arbiter_->transitions();
  for (; transitions_seen_ < all.size(); ++transitions_seen_) {
    ++shared_.transitions[all[transitions_seen_].kind];
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

// Terms only grow across what the coordinators send, as epochs do across actives: one that
// acts in a term below one another coordinator already acted in is a deposed leader acting
// on a stale view; two acting in one term share a leader key that etcd gives one lease.
void Coordinator::Acts() {
  std::optional<std::pair<uint64_t, std::string>>& last = shared_.last_act;
  if (last && (term_ < last->first || (term_ == last->first && host_ != last->second))) {
    if (shared_.reported.insert({term_, host_}).second) {
      shared_.violations.push_back("one-coordinator-per-term: " + host_ + " acts in term " +
                                   std::to_string(term_) + " at " + std::to_string(sim_.now()) +
                                   " us, after " + last->second + " acted in term " +
                                   std::to_string(last->first));
    }
    return;
  }
  last = {term_, host_};
}

void Coordinator::SendDesired() {
  std::vector<std::pair<std::string, DesiredState>> outgoing = links_->TakeOutgoing();
  if (!outgoing.empty()) Acts();
  for (const auto& [route, desired] : outgoing) {
    const std::string host = desired.host;
    network_.SendOrdered(node_, route, "desired g" + std::to_string(desired.generation),
                         [this, host, desired] { agents_.OnDesired(host, desired); });
  }
}

// As coordinator.cc's OnAgentFrame: the report's process events go to the arbiter. A
// follower hears it too and drops it (the daemon keeps it warm; the sim's next leader
// learns the same from the agents' next reports).
void Coordinator::OnAgentReport(const std::string& route, const AgentReport& report) {
  Deliver([this, route, report] {
    Guard([&] {
      if (!Leading()) return;
      const int64_t now = sim_.now();
      const SplitEvents events = SplitFinalExits(links_->OnReport(route, report, now));
      for (const ProcessEvent& e : events.in_order) {
        if (e.kind == ProcessEvent::Kind::kExited) {
          arbiter_->OnProcessExited(e.replica, now);
        } else if (e.kind == ProcessEvent::Kind::kStarted) {
          arbiter_->OnProcessStarted(e.replica, e.pid, now);  // adopted: it ran before us
        } else {
          arbiter_->OnProcessPid(e.replica, e.pid);
        }
      }
      if (!events.final_exits.empty()) arbiter_->OnProcessesExited(events.final_exits, now);
      Execute();
    });
  });
}

// A status from a pid other than the one the replica's agent reported is refused, as
// coordinator.cc's Impostor does.
void Coordinator::OnStatus(const StatusReport& status) {
  Deliver([this, status] {
    Guard([&] {
      if (!Leading()) return;
      const int32_t owned = links_->KnownPid(status.replica);
      if (owned != 0 && owned != status.pid) {
        sim_.trace.Line("refused status of " + status.replica + " from pid " +
                        std::to_string(status.pid) + " (its process is " + std::to_string(owned) +
                        ")");
        return;
      }
      arbiter_->OnStatus(status, sim_.now());
      Execute();
    });
  });
}

void Coordinator::OnDigestAnswer(const std::string& from, const AdminReply& reply) {
  Deliver([this, from, reply] {
    Guard([&] {
      if (Leading()) digests_.OnAnswer(from, reply);
    });
  });
}

}  // namespace duplex::sim
