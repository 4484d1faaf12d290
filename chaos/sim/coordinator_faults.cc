#include "chaos/sim/coordinator_faults.h"

#include <vector>

#include "chaos/sim/fenced_store.h"

namespace duplex::sim {

// The embedded coordinator's restart keeps its old name.
std::string CoordinatorFaults::KillLeader(bool torn) {
  Coordinator* leader = coordinators_.leader();
  if (leader == nullptr) return "";
  const int64_t down_us = sim_.rng.Uniform(0, 500) * kMs;
  leader->Restart(down_us, torn);
  return sim_.coordinator_hosts.size() == 1 ? "coordinator-restart" : "coordinator-leader-kill";
}

// Up to more than two lease TTLs: thawed, it must find it no longer leads before it acts.
std::string CoordinatorFaults::FreezeLeader() {
  Coordinator* leader = coordinators_.leader();
  if (leader == nullptr) return "";
  const int64_t until = sim_.now() + sim_.rng.Uniform(100, 2500) * kMs;
  sim_.trace.Line(leader->node() + " frozen until " + std::to_string(until));
  leader->Freeze(until);
  return "coordinator-leader-freeze";
}

// From etcd only (its lease runs out; another takes over while it still hears the replicas),
// or from the replicas and agents only (it keeps leading and hears nobody: the replicas'
// leases and the agents' silence take over). Loopback within its own host is never cut.
std::string CoordinatorFaults::IsolateLeader() {
  Coordinator* leader = coordinators_.leader();
  if (leader == nullptr) return "";
  const std::string node = leader->node();
  const bool from_etcd = sim_.rng.Chance(0.5);
  std::vector<std::string> peers;
  if (from_etcd) {
    peers = {kEtcdNode};
  } else {
    for (const char* replica : {"a", "b"}) {
      if (HostOf(replica) == leader->host()) continue;
      peers.push_back(replica);
      peers.push_back(AgentNode(HostOf(replica)));
    }
  }
  const int64_t for_us = sim_.rng.Uniform(100, 2000) * kMs;
  const std::string kind = from_etcd ? "coordinator-isolate-etcd" : "coordinator-isolate-replicas";
  sim_.trace.Line(kind + " " + node + " for " + std::to_string(for_us / kMs) + " ms");
  for (const std::string& peer : peers) {
    network_.Cut(node + ">" + peer);
    network_.Cut(peer + ">" + node);
  }
  sim_.queue.After(for_us, [this, node, peers] {
    for (const std::string& peer : peers) {
      network_.Restore(node + ">" + peer);
      network_.Restore(peer + ">" + node);
    }
    sim_.trace.Line(node + " reconnected");
  });
  return kind;
}

std::string CoordinatorFaults::LoseQuorum() {
  if (!etcd_.available()) return "";
  etcd_.LoseQuorum();
  sim_.queue.After(sim_.rng.Uniform(200, 3000) * kMs, [this] { etcd_.RegainQuorum(); });
  return "etcd-quorum-loss";
}

// One member of three: quorum stays; if it led the members (one time in three), the others
// elect a new leader, answering nothing meanwhile.
std::string CoordinatorFaults::KillEtcdMember() {
  if (sim_.rng.Chance(1.0 / 3)) etcd_.Elect(sim_.rng.Uniform(50, 400) * kMs);
  return "etcd-member-kill";
}

// Every write of the record fails until the disk is freed: the write that fails ends the
// coordinator's term, as in the daemon (coordinator.cc, BeginAloneTerm: it stops acting
// rather than exit or decide without a record), and each later loop turn tries to take up a
// new term from the record, which succeeds once a write does. Meanwhile nothing is promoted
// and no solo is granted; the judge finds whatever it got wrong (an epoch announced and
// forgotten, two actives), and the settle that the run converges once the disk works.
std::string CoordinatorFaults::FillRecordDisk() {
  if (sim_.coordinator_hosts.size() != 1) return "";
  MemoryRecordStore& record = coordinators_.embedded_record();
  if (record.full()) return "";
  const int64_t for_us = sim_.rng.Uniform(100, 2000) * kMs;
  sim_.trace.Line("coordinator disk full for " + std::to_string(for_us / kMs) + " ms");
  record.SetFull(true);
  sim_.queue.After(for_us, [this, &record] {
    record.SetFull(false);
    sim_.trace.Line("coordinator disk freed");
  });
  return "coordinator-disk-full";
}

}  // namespace duplex::sim
