#include "chaos/sim/world.h"

namespace duplex::sim {

World::World(const SimOptions& o)
    : sim_(o),
      network_(sim_),
      etcd_(sim_),
      processes_(sim_, network_, this),
      agents_(sim_, network_, processes_, this),
      coordinators_(sim_, network_, processes_, agents_, etcd_),
      clients_(sim_, network_, processes_, coordinators_),
      faults_(sim_, network_, processes_, agents_, coordinators_, etcd_),
      judge_(sim_, processes_, coordinators_, clients_) {}

SimResult World::Run() {
  sim_.trace.Line("profile " + sim_.profile.Describe());
  agents_.StartAll();
  coordinators_.StartAll();
  // Load and faults.
  faults_.Start();
  clients_.Start();
  if (sim_.profile.upgrade) {
    sim_.queue.At(sim_.rng.Uniform(300, 1200) * kMs, [this] { coordinators_.StartCampaign(); });
  }
  sim_.queue.Every(kTickUs, [this] {
    processes_.Tick();
    agents_.Tick();
    coordinators_.Tick();
    return true;
  });
  sim_.queue.RunUntil(sim_.options.load_ms * kMs);
  // Settle: faults off, every process running, clients finish what they started.
  network_.StopFaults();
  clients_.StopLoad();
  faults_.Stop();
  HealAll();
  int64_t settle_end = sim_.now() + sim_.options.settle_ms * kMs;
  while (sim_.now() < settle_end && !judge_.Settled()) sim_.queue.RunUntil(sim_.now() + 50 * kMs);
  SimResult out = judge_.Verdict();
  out.transitions = coordinators_.transitions();
  out.faults = faults_.counts();
  if (processes_.compaction_power_cuts() > 0) {
    out.faults["power-loss-in-compaction"] = processes_.compaction_power_cuts();
  }
  out.coordinators = sim_.coordinator_hosts.size();
  out.terms = coordinators_.terms();
  return out;
}

void World::HealAll() {
  sim_.trace.Line("heal");
  network_.HealAll();
  processes_.HealAll();
  etcd_.RegainQuorum();
  faults_.HealHosts();  // every host up, every agent running
  coordinators_.HealAll();
}

void World::OnExited(const std::string& replica, int32_t pid) { agents_.OnExited(replica, pid); }

void World::OnAgentReport(const std::string& node, const std::string& route,
                          const AgentReport& report) {
  coordinators_.OnAgentReport(node, route, report);
}

void World::OnStatus(const std::string& node, const StatusReport& status) {
  coordinators_.OnStatus(node, status);
}

// A digest answer is routed "host-<replica>@<coordinator node>" (DigestDriver::Ask).
void World::OnAdminReply(const std::string& route, const AdminReply& reply) {
  const size_t at = route.find('@');
  if (!route.starts_with("host-") || at == std::string::npos) return;
  coordinators_.OnDigestAnswer(route.substr(at + 1), route.substr(5, at - 5), reply);
}

void World::OnReply(const std::string& route, const ClientReply& reply) {
  if (route.empty() || route[0] != 'c') return;
  clients_.OnReply(std::stoi(route.substr(1)), reply);
}

}  // namespace duplex::sim
