// The simulated coordinator: the Arbiter and the campaign machine of the daemon on their
// durable record, the agents' side (AgentLinks: the arbiter's starts and stops become the
// hosts' desired states; the agents' reports become process events, as coordinator.cc wires
// them) and the campaign's hands (Host). It runs on host h3, dies and restarts with the
// faults; its record survives it. Owned by the World; single-threaded.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "chaos/sim/agents.h"
#include "chaos/sim/context.h"
#include "chaos/sim/digest_driver.h"
#include "chaos/sim/memory_record_store.h"
#include "chaos/sim/network.h"
#include "chaos/sim/replica_process.h"
#include "upgrade_coordinator/agent_links.h"
#include "upgrade_coordinator/arbiter.h"
#include "upgrade_coordinator/campaign/campaign.h"
#include "upgrade_coordinator/event_log.h"

namespace duplex::sim {

class Coordinator;

// The campaign's view of the simulated cluster, and its hands.
class Host final : public CampaignHost {
 public:
  explicit Host(Coordinator* c) : c_(c) {}
  std::string ActiveName() const override;
  std::string OtherName(const std::string& replica) const override;
  std::optional<StatusReport> Report(const std::string& replica) const override;
  bool InSync(const std::string& replica) const override;
  std::string AssignedVersion(const std::string& replica) const override;
  uint64_t Starts(const std::string& replica) const override;
  std::string CheckPackage(const std::string&) const override { return ""; }
  std::string CheckCompatibility(const std::string&, const std::string&) const override {
    return "";
  }
  // Every simulated host holds every package (distribution is not simulated yet).
  Distribution DistributePackage(const std::string&) override { return {true, "", ""}; }
  void Persist(const CampaignRecord& record) override;
  void Isolate(const std::string& replica, bool isolated) override;
  void Reload(const std::string& replica, const std::string& version) override;
  Status Switchover() override;
  void SetClusterVersion(const std::string& version) override;
  void SetLock(bool held) override;
  void StartWork(WorkKind kind) override;

 private:
  Coordinator* c_;
};

class Coordinator {
 public:
  Coordinator(SimContext& sim, Network& network, Processes& processes, Agents& agents);

  // Null while the coordinator is down; the campaign also when none was started.
  const Arbiter* arbiter() const { return arbiter_.get(); }
  const Campaign* campaign() const { return campaign_.get(); }
  // The cluster and campaign events of every coordinator life.
  const EventLog& events() const { return events_; }
  // Promotions by kind over every coordinator life (TransitionEvent::kind).
  const std::map<std::string, uint64_t>& transitions() const { return transitions_; }
  // What went wrong in the coordinator itself ("coordinator: ...").
  const std::vector<std::string>& violations() const { return violations_; }

  // A coordinator starts on the record its previous lives left.
  void Start();
  // The faults kill the coordinator, down for down_us. Torn: at its next decision,
  // between persisting it and carrying it out; otherwise now.
  void Restart(int64_t down_us, bool torn);
  // The operator starts the rolling upgrade (and, per the profile, aborts it or
  // finalizes it by hand).
  void StartCampaign();
  // Each loop turn.
  void Tick();

  // What reaches the coordinator's process from the replicas and the agents.
  void OnStatus(const StatusReport& status);
  void OnAgentReport(const std::string& route, const AgentReport& report);
  void OnDigestAnswer(const std::string& from, const AdminReply& reply);

 private:
  friend class Host;

  static CampaignOptions CampaignTimes();
  static ClusterConfig SimCluster();
  void Stop();
  void RestartAfter(int64_t delay_us);
  void Execute();
  void AskStart(const std::string& replica);
  void SendDesired();
  void FinalizeByHand();
  void Distribute();
  bool Holds(const std::string& host) const;
  void BeginCampaign();
  void CountTransitions();

  SimContext& sim_;
  Network& network_;
  Processes& processes_;
  Agents& agents_;
  const ClusterConfig config_;  // the hosts and replicas, for AgentLinks
  Host host_;
  MemoryRecordStore records_;
  std::unique_ptr<Arbiter> arbiter_;
  std::unique_ptr<Campaign> campaign_;
  std::unique_ptr<AgentLinks> links_;  // null while the coordinator is down
  DigestDriver digests_;
  bool kill_after_persist_ = false;
  uint64_t writes_acted_on_ = 0;  // records_.writes() when the coordinator last acted
  int64_t down_us_ = 0;
  EventLog events_;
  std::vector<std::string> violations_;
  std::map<std::string, uint64_t> transitions_;
  size_t transitions_seen_ = 0;  // of this life's arbiter
};

}  // namespace duplex::sim
