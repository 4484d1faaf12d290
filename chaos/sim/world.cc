#include "chaos/sim/world.h"

namespace duplex::sim {

World::World(const SimOptions& o)
    : sim_(o),
      network_(sim_),
      processes_(sim_, network_, this),
      agents_(sim_, network_, processes_, this),
      coordinator_(sim_, network_, processes_, agents_),
      clients_(sim_, network_, processes_),
      faults_(sim_, network_, processes_, agents_, coordinator_),
      judge_(sim_, processes_, coordinator_, clients_) {}

SimResult World::Run() {
  sim_.trace.Line("profile " + sim_.profile.Describe());
  agents_.StartAll();
  coordinator_.Start();
  // Load and faults.
  faults_.Start();
  clients_.Start();
  if (sim_.profile.upgrade) {
    sim_.queue.At(sim_.rng.Uniform(300, 1200) * kMs, [this] { coordinator_.StartCampaign(); });
  }
  sim_.queue.Every(kTickUs, [this] {
    processes_.Tick();
    agents_.Tick();
    coordinator_.Tick();
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
  out.transitions = coordinator_.transitions();
  out.faults = faults_.counts();
  return out;
}

void World::HealAll() {
  sim_.trace.Line("heal");
  network_.HealAll();
  processes_.HealAll();
  faults_.HealHosts();  // every host up, every agent running
  if (!coordinator_.arbiter()) coordinator_.Start();
}

void World::OnExited(const std::string& replica, int32_t pid) { agents_.OnExited(replica, pid); }

void World::OnAgentReport(const std::string& route, const AgentReport& report) {
  coordinator_.OnAgentReport(route, report);
}

void World::OnStatus(const StatusReport& status) { coordinator_.OnStatus(status); }

void World::OnAdminReply(const std::string& route, const AdminReply& reply) {
  if (route.starts_with("host-")) {  // a digest answer, routed by the replica asked
    coordinator_.OnDigestAnswer(route.substr(5), reply);
  }
}

void World::OnReply(const std::string& route, const ClientReply& reply) {
  if (route.empty() || route[0] != 'c') return;
  clients_.OnReply(std::stoi(route.substr(1)), reply);
}

}  // namespace duplex::sim
