// The simulated coordinators: one embedded coordinator (on h3, its record in memory), or
// three (on h1, h2 and h3) electing a leader on the simulated etcd; the operator who starts
// the rolling upgrade through whichever leads; and the judge's view of them (the leader's
// arbiter and campaign, the cluster's event log, and the check that at most one coordinator
// acts per term, and never two at once). Owned by the World; single-threaded.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "chaos/sim/coordinator.h"

namespace duplex::sim {

class Coordinators {
 public:
  Coordinators(SimContext& sim, Network& network, Processes& processes, Agents& agents,
               SimEtcd& etcd);

  // The coordinator acting as the leader with its leader state built; null when none.
  Coordinator* leader();
  const Coordinator* leader() const;
  // The leader's; null when no coordinator leads (the campaign also when none was started).
  const Arbiter* arbiter() const;
  const Campaign* campaign() const;
  // The coordinator on `host`, null when none runs there.
  Coordinator* on(const std::string& host);
  const EventLog& events() const { return shared_.events; }
  const std::vector<nlohmann::json>& leadership() const { return shared_.leadership; }
  // Promotions by kind over every coordinator and life (TransitionEvent::kind).
  const std::map<std::string, uint64_t>& transitions() const { return shared_.transitions; }
  // What went wrong in the coordinators ("coordinator: ...", "one-coordinator-per-term: ...").
  const std::vector<std::string>& violations() const { return shared_.violations; }
  // The embedded coordinator's record (its disk, for the faults).
  MemoryRecordStore& embedded_record() { return shared_.memory; }
  // Terms led (a coordinator began acting), over the run.
  uint64_t terms() const { return shared_.term_holder.size(); }

  void StartAll();
  // The faults stop: every coordinator runs, thawed.
  void HealAll();
  // Each loop turn.
  void Tick();
  // The operator adds the package and starts the rolling upgrade (and, per the profile,
  // aborts it or finalizes it by hand), through whichever coordinator leads.
  void StartCampaign();

  // What reaches a coordinator's node.
  void OnStatus(const std::string& node, const StatusReport& status);
  void OnAgentReport(const std::string& node, const std::string& route, const AgentReport& report);
  void OnDigestAnswer(const std::string& node, const std::string& from, const AdminReply& reply);

 private:
  Coordinator* at(const std::string& node);
  void CheckOneActs();
  CampaignRecord NewCampaign();
  void Operate();
  void FinalizeByHand();

  SimContext& sim_;
  CoordinatorShared shared_;
  std::vector<std::unique_ptr<Coordinator>> all_;
  bool campaign_seen_ = false;  // the operator saw the campaign begin
};

}  // namespace duplex::sim
