// One simulated coordinator process: the daemon's parts on the simulated clock. It elects
// (SimElector: the ElectionCore against the simulated etcd) and, only while it acts as the
// leader, holds the leader state: the Arbiter and the campaign machine on a fenced record
// store over etcd (built afresh each term, from the record, by Recover), the agents' side
// (AgentLinks) and the campaign's hands (Host). A failed durable write ends its term, not the
// run. The embedded coordinator (no etcd) always leads, term 0, on a record in memory. It
// dies, restarts and freezes with the faults. Owned by Coordinators; single-threaded.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "chaos/sim/agents.h"
#include "chaos/sim/context.h"
#include "chaos/sim/digest_driver.h"
#include "chaos/sim/elector.h"
#include "chaos/sim/etcd.h"
#include "chaos/sim/fenced_store.h"
#include "chaos/sim/memory_record_store.h"
#include "chaos/sim/network.h"
#include "chaos/sim/replica_process.h"
#include "upgrade_coordinator/agent_links.h"
#include "upgrade_coordinator/arbiter.h"
#include "upgrade_coordinator/campaign/campaign.h"
#include "upgrade_coordinator/event_log.h"

namespace duplex::sim {

class Coordinator;

// What the coordinators share: the cluster's event log and counts over every coordinator
// and life, what went wrong (the judge's), the embedded coordinator's record, and who acted
// in which term.
struct CoordinatorShared {
  CoordinatorShared() { events.KeepInMemory(); }
  EventLog events;
  std::map<std::string, uint64_t> transitions;  // promotions by kind
  std::vector<std::string> violations;
  MemoryRecordStore memory;
  std::vector<nlohmann::json> leadership;       // {"kind":"leadership","coordinator","term",...}
  std::map<uint64_t, std::string> term_holder;  // the host that began acting in each term
  std::optional<std::pair<uint64_t, std::string>> last_act;  // the highest term sent in, by
  std::set<std::pair<uint64_t, std::string>> reported;       // stale acts reported
};

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
  // `etcd` null: the embedded coordinator, on shared.memory.
  Coordinator(SimContext& sim, Network& network, Processes& processes, Agents& agents,
              SimEtcd* etcd, CoordinatorShared& shared, const std::string& host);

  const std::string& host() const { return host_; }
  const std::string& node() const { return node_; }
  bool up() const { return up_; }
  // The leader state, null unless this coordinator acts (the campaign also when none).
  const Arbiter* arbiter() const { return arbiter_.get(); }
  const Campaign* campaign() const { return campaign_.get(); }
  uint64_t term() const { return term_; }
  // Whether its election says it acts now (the embedded one: while it runs).
  bool Acting() const;
  // The leader key's holder as this coordinator last heard ("" when unknown).
  std::string LeaderSeen() const;

  // The process starts (on the record its predecessors left), dies now, or dies and
  // starts again after down_us (torn: at its next decision, between persisting and acting).
  void Start();
  void Kill(const std::string& why);
  void Restart(int64_t down_us, bool torn);
  // Its host (or the process) is stopped until until_us: it runs and hears nothing.
  void Freeze(int64_t until_us);
  void Thaw();
  // Each loop turn.
  void Tick();

  // What reaches the coordinator's process from the replicas and the agents.
  void OnStatus(const StatusReport& status);
  void OnAgentReport(const std::string& route, const AgentReport& report);
  void OnDigestAnswer(const std::string& from, const AdminReply& reply);

  // The operator's requests (through the CLI, which finds the leader): each runs only if
  // this coordinator leads now. Sends the package to the hosts that lack it; true when every
  // host holds it.
  bool Distribute();
  void BeginCampaign(CampaignRecord record);
  void AbortCampaign();
  void FinalizeCampaign();

 private:
  friend class Host;

  static CampaignOptions CampaignTimes();
  static ClusterConfig SimCluster();
  // Runs fn now, at the thaw (after what reached it before), or never (the process died).
  void Deliver(std::function<void()> fn);
  void Flush();
  // Runs fn; a durable write that failed inside it ends this coordinator's term.
  void Guard(const std::function<void()>& fn);
  // Brings the leader state in line with the election; whether it leads now.
  bool Leading();
  void BecomeLeader();
  void DropLeadership(const std::string& why);
  void Note(bool acting, const std::string& why);
  RecordStore* store();
  uint64_t writes() const;
  void Execute();
  void AskStart(const std::string& replica);
  void SendDesired();
  // It sends something: checks that terms only grow across the coordinators' acts.
  void Acts();
  bool Holds(const std::string& host) const;
  void CountTransitions();

  SimContext& sim_;
  Network& network_;
  Processes& processes_;
  Agents& agents_;
  SimEtcd* etcd_;
  CoordinatorShared& shared_;
  const std::string host_, node_;
  const ClusterConfig config_;  // the hosts and replicas, for AgentLinks
  Host campaign_host_;
  std::unique_ptr<SimElector> elector_;  // null for the embedded coordinator
  bool up_ = false;
  int64_t frozen_until_ = 0;
  std::deque<std::function<void()>> held_;  // what reached it while frozen, in order
  uint64_t life_ = 0;  // bumps at each start: what was queued for a dead process is lost
  // The leader state, of this term.
  uint64_t term_ = 0;
  uint64_t term_life_ = 0;  // bumps at each term begun or dropped
  std::unique_ptr<FencedStore> fenced_;
  std::unique_ptr<Arbiter> arbiter_;
  std::unique_ptr<Campaign> campaign_;
  std::unique_ptr<AgentLinks> links_;
  DigestDriver digests_;
  bool kill_after_persist_ = false;
  uint64_t writes_acted_on_ = 0;  // writes() when the coordinator last acted
  int64_t down_us_ = 0;
  size_t transitions_seen_ = 0;  // of this term's arbiter
};

}  // namespace duplex::sim
