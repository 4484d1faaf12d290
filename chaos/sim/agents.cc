#include "chaos/sim/agents.h"

#include <signal.h>

#include <algorithm>
#include <variant>

#include "common/assert.h"

namespace duplex::sim {

Agents::Agents(SimContext& sim, Network& network, Processes& processes, AgentListener* listener)
    : sim_(sim), network_(network), processes_(processes), listener_(listener) {
  for (const char* host : {"h1", "h2"}) {
    agents_[host].host = host;
    network_.Place(AgentNode(host), host);
  }
}

// As the daemon derives them from the cluster's configuration (agent_daemon.cc), with the
// simulated coordinator's restart policy (crashes are not limited: faults crash often).
AgentCoreOptions Agents::CoreOptions(const std::string& host) {
  AgentCoreOptions o;
  o.host = host;
  o.alone_after_ms = 5 * kHeartbeatMs;
  o.restart.restarts_max = 1000;
  return o;
}

void Agents::StartAll() {
  for (auto& [host, a] : agents_) Start(host);
}

// The replica processes of the host that still run (or still start): the daemon finds them
// by the pid lock on their directories, and takes their instance from its record.
std::vector<ReplicaProcess> Agents::Running(const Agent& a) const {
  std::vector<ReplicaProcess> out;
  const std::string replica = ReplicaOn(a.host);
  if (!processes_.Running(replica)) return out;
  ReplicaProcess adopted;
  adopted.replica = replica;
  adopted.pid = processes_.at(replica).pid;
  for (const ReplicaProcess& p : a.disk.processes) {
    if (p.replica == replica && p.pid == adopted.pid) adopted = p;
  }
  out.push_back(adopted);
  return out;
}

void Agents::Start(const std::string& host) {
  Agent& a = agents_.at(host);
  if (a.core) return;
  a.core = std::make_unique<AgentCore>(CoreOptions(host));
  a.pid = ++next_pid_;
  a.started_us = sim_.now();
  a.last_report_us = sim_.now();
  std::vector<ReplicaProcess> running = Running(a);
  std::string adopted;
  for (const ReplicaProcess& p : running) {
    adopted += " adopts " + p.replica + " pid " + std::to_string(p.pid) + " instance " +
               std::to_string(p.instance);
  }
  sim_.trace.Line("agent " + host + " started" + adopted);
  DesiredState desired = a.disk.desired;
  desired.host = host;
  a.core->Restore(desired, running, sim_.now());
  Execute(a);
  Report(a, false);  // the daemon's first heartbeat: the coordinator answers with its state
}

void Agents::Kill(const std::string& host) {
  Agent& a = agents_.at(host);
  if (!a.core) return;
  sim_.trace.Line("agent " + host + " killed");
  a.core.reset();
  a.frozen_until = 0;  // a frozen agent killed (its host crashed): a new one is not frozen
  a.held.clear();
}

void Agents::Freeze(const std::string& host, int64_t until_us) {
  Agent& a = agents_.at(host);
  a.frozen_until = std::max(a.frozen_until, until_us);
  sim_.queue.At(a.frozen_until, [this, host] { Flush(agents_.at(host)); });
}

void Agents::ThawAll() {
  for (auto& [host, a] : agents_) {
    a.frozen_until = 0;
    Flush(a);
  }
}

// What reached a frozen agent waits in its socket, in order, and is read at the thaw before
// anything that arrives later (its link is ordered: an older desired state read after a
// newer one would undo it).
void Agents::OnAgent(const std::string& host, const std::function<void(Agent&)>& fn) {
  Agent& a = agents_.at(host);
  if (!a.core) return;  // nobody listens: lost
  if (a.frozen_until > sim_.now() || !a.held.empty()) {
    a.held.push_back(fn);
    return;
  }
  fn(a);
  Execute(a);
}

void Agents::Flush(Agent& a) {
  while (a.core && a.frozen_until <= sim_.now() && !a.held.empty()) {
    std::function<void(Agent&)> fn = std::move(a.held.front());
    a.held.pop_front();
    fn(a);
    Execute(a);
  }
}

void Agents::OnDesired(const std::string& host, const DesiredState& desired) {
  OnAgent(host, [this, desired](Agent& a) {
    DUPLEX_ASSERT(desired.host == a.host, "a desired state reaches its host's agent", desired.host,
                  a.host);
    a.core->OnDesired(desired, sim_.now());
  });
}

void Agents::OnPackage(const std::string& host, const PackagePart& part) {
  OnAgent(host, [this, part](Agent& a) {
    a.core->OnCoordinatorHeard(sim_.now());
    StoredPackage stored{part.name, part.version, ""};
    if (std::find(a.packages.begin(), a.packages.end(), stored) == a.packages.end()) {
      a.packages.push_back(stored);
      sim_.trace.Line("agent " + a.host + " stores package " + part.name + "-" + part.version);
    }
    Report(a, false);  // as the daemon does once a package is complete
  });
}

void Agents::OnExited(const std::string& replica, int32_t pid) {
  OnAgent(HostOf(replica),
          [this, replica, pid](Agent& a) { a.core->OnExited(replica, pid, "exited", sim_.now()); });
}

void Agents::Tick() {
  for (auto& [host, a] : agents_) {
    if (!a.core || a.frozen_until > sim_.now()) continue;
    a.core->OnTick(sim_.now());
    if (sim_.now() - a.last_report_us >= kHeartbeatMs * kMs) Report(a, false);
    Execute(a);
  }
}

void Agents::Execute(Agent& a) {
  // An action may add more (a start that fails converges again): until none is left.
  for (int round = 0; round < 8 && a.core; ++round) {
    std::vector<AgentAction> actions = a.core->TakeActions();
    if (actions.empty()) return;
    for (AgentAction& action : actions) {
      if (auto* start = std::get_if<StartProcess>(&action)) {
        Launch(a, start->spec);
      } else if (auto* signal = std::get_if<SignalProcess>(&action)) {
        Signal(a, *signal);
      } else if (auto* report = std::get_if<SendReport>(&action)) {
        if (report->urgent) Report(a, true);
      } else if (std::holds_alternative<SaveRecord>(action)) {
        a.disk = {a.core->desired(), a.core->processes()};
      }
    }
  }
}

// The configured release (package "") is the old version; a package names its version.
void Agents::Launch(Agent& a, const ReplicaSpec& spec) {
  DUPLEX_ASSERT(spec.replica == ReplicaOn(a.host), "an agent starts its host's replica",
                spec.replica, a.host);
  const std::string version = spec.package.empty() ? kOldVersion : spec.version;
  const StoredPackage wanted{spec.package, spec.version, ""};
  if (!spec.package.empty() &&
      std::find(a.packages.begin(), a.packages.end(), wanted) == a.packages.end()) {
    const std::string why = "package " + spec.package + "-" + spec.version + " is not on host " +
                            a.host + " (not distributed yet?)";
    sim_.trace.Line("agent " + a.host + " cannot start " + spec.replica + ": " + why);
    a.core->OnStartFailed(spec.replica, why, sim_.now());
    return;
  }
  const int32_t pid = processes_.Spawn(spec.replica, version);
  sim_.trace.Line("agent " + a.host + " starts " + spec.replica + " instance " +
                  std::to_string(spec.instance) + " " + version + " pid " + std::to_string(pid));
  a.core->OnStarted(spec.replica, pid, sim_.now());
}

// SIGTERM and SIGKILL both end a simulated process at once (it has nothing to drain).
void Agents::Signal(Agent& a, const SignalProcess& signal) {
  const Replica& r = processes_.at(signal.replica);
  if (r.pid != signal.pid || !processes_.Running(signal.replica)) return;  // gone already
  sim_.trace.Line("agent " + a.host + " signals " + signal.replica + " pid " +
                  std::to_string(signal.pid) +
                  (signal.signal == SIGKILL ? " SIGKILL" : " SIGTERM"));
  processes_.Stop(signal.replica);
}

void Agents::Report(Agent& a, bool urgent) {
  a.last_report_us = sim_.now();
  AgentReport r;
  r.host = a.host;
  r.agent_pid = a.pid;
  r.started_us = a.started_us;
  r.sent_us = sim_.now();
  r.generation = a.core->desired().generation;
  r.processes = a.core->processes();
  r.packages = a.packages;
  r.urgent = urgent;
  const std::string from = AgentNode(a.host);
  for (const std::string& host : sim_.coordinator_hosts) {
    const std::string node = CoordinatorNode(host);
    network_.SendOrdered(from, node, urgent ? "agent report (urgent)" : "agent report",
                         [this, node, from, r] { listener_->OnAgentReport(node, from, r); });
  }
}

}  // namespace duplex::sim
