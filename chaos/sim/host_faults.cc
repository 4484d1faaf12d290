#include "chaos/sim/host_faults.h"

namespace duplex::sim {

// The machine dies: its agent and its replica at once (their exits reach nobody), and,
// half the time, as a power cut would, with the writes its disk had not synced. Nothing
// reaches it until it boots again.
std::string HostFaults::Crash(const std::string& host) {
  if (down_[host]) return "";
  down_[host] = true;
  const bool power = sim_.rng.Chance(0.5);
  const int64_t down_us = sim_.rng.Uniform(100, 1500) * kMs;
  sim_.trace.Line("host " + host + " crashes" + (power ? " (power cut)" : "") + " for " +
                  std::to_string(down_us / kMs) + " ms");
  agents_.Kill(host);
  if (Coordinator* c = coordinators_.on(host)) c->Kill("dies with its host");
  Replica& r = processes_.at(ReplicaOn(host));
  processes_.Thaw(r);
  if (power) r.fs->CutPower();
  processes_.Kill(r, "host crash");
  if (power) r.fs->RestorePower();
  network_.CutHost(host, true, true);
  sim_.queue.After(down_us, [this, host] { BootHost(host); });
  return "host-crash";
}

// Its agent starts again from its record (on the host's disk); the replica is not running,
// so the agent converges: it starts what its desired state asks for.
void HostFaults::BootHost(const std::string& host) {
  if (!down_[host]) return;  // booted by HealAll already
  down_[host] = false;
  network_.RestoreHost(host, true, true);
  sim_.trace.Line("host " + host + " boots");
  agents_.Start(host);
  if (Coordinator* c = coordinators_.on(host)) c->Start();
}

std::string HostFaults::Freeze(const std::string& host) {
  if (down_[host]) return "";
  const int64_t until = sim_.now() + sim_.rng.Uniform(100, 1500) * kMs;
  sim_.trace.Line("host " + host + " frozen until " + std::to_string(until));
  processes_.Freeze(processes_.at(ReplicaOn(host)), until);
  agents_.Freeze(host, until);
  if (Coordinator* c = coordinators_.on(host)) c->Freeze(until);
  return "host-freeze";
}

// Both ways half the time; else one way: the host hears but is not heard (its traffic out
// is dropped), or is heard but does not hear.
std::string HostFaults::Isolate(const std::string& host) {
  const int64_t mode = sim_.rng.Uniform(0, 3);
  const bool in = mode != 2, out = mode != 3;
  const int64_t for_us = sim_.rng.Uniform(100, 1500) * kMs;
  const std::string kind = in && out ? "host-isolate"
                           : out     ? "host-isolate-out"
                                     : "host-isolate-in";
  sim_.trace.Line(kind + " " + host + " for " + std::to_string(for_us / kMs) + " ms");
  network_.CutHost(host, in, out);
  sim_.queue.After(for_us, [this, host, in, out] {
    network_.RestoreHost(host, in, out);
    sim_.trace.Line("host " + host + " reachable again");
  });
  return kind;
}

// Killed (SIGKILL) and restarted by its service manager soon (agent-restart) or late
// (agent-kill: longer than the agent's silence limit).
std::string HostFaults::KillAgent(const std::string& host) {
  if (down_[host] || !agents_.Up(host)) return "";
  const bool soon = sim_.rng.Chance(0.5);
  const int64_t down_us = soon ? sim_.rng.Uniform(0, 50) * kMs : sim_.rng.Uniform(200, 1500) * kMs;
  agents_.Kill(host);
  sim_.queue.After(down_us, [this, host] {
    if (!down_[host]) agents_.Start(host);  // a host down starts its agent when it boots
  });
  return soon ? "agent-restart" : "agent-kill";
}

void HostFaults::HealAll() {
  for (auto& [host, down] : down_) {
    if (down) BootHost(host);
  }
  agents_.ThawAll();
  agents_.StartAll();
}

}  // namespace duplex::sim
