// CoordinatorTerm: what a coordinator does while it acts, for one term of leadership: the
// arbiter on its durable record, the agents' links, the campaign and its API, the event log.
// A coordinator alone (no etcd) acts in one term for its whole life; one of several builds a
// term when it wins the election and drops it when its leadership ends, so nothing decided
// under a lost lease survives into the next. Owned by the coordinator's loop (coordinator.cc)
// and used on its thread only, except AddPackage (any thread, shared ownership).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "upgrade_coordinator/agent/agent_protocol.h"
#include "upgrade_coordinator/agent_links.h"
#include "upgrade_coordinator/arbiter.h"
#include "upgrade_coordinator/cluster_config.h"
#include "upgrade_coordinator/event_log.h"
#include "upgrade_coordinator/upgrades.h"
#include "upgrade_coordinator/upgrades_api.h"

namespace duplex {

// Sends ZeroMQ parts on the control socket to a routing id.
using ControlSender = std::function<void(const std::string& route, std::vector<std::string>)>;

class CoordinatorTerm {
 public:
  // term: the leader key's create_revision (0 for a coordinator alone). replica_routes: the
  // coordinator's map of replica name -> routing id, learned from statuses.
  CoordinatorTerm(const ClusterConfig& config, std::unique_ptr<RecordStore> store,
                  FeaturesOnReload features_on_reload, uint64_t term,
                  const std::map<std::string, std::string>* replica_routes, ControlSender send);

  // Reads the record and the campaign and opens the event log; nothing acts before.
  Status Begin(int64_t now_us, const std::string& events_path);
  uint64_t term() const { return term_; }

  // A replica's status: "" when taken, else why it cannot be from the replica it names.
  std::string OnStatus(const StatusReport& status, int64_t now_us);
  void OnAgentReport(const std::string& route, const AgentReport& report, int64_t now_us);
  // One loop turn: the arbiter and the campaign decide; assignments and desired states go out.
  void Tick(int64_t now_us);
  // When Tick must run again if nothing arrives first (Arbiter::NextTickUs), Tick having
  // run at now_us; a campaign under way is ticked every Arbiter::kTransitionTickUs.
  int64_t NextTickUs(int64_t now_us) const {
    return upgrades_.Busy() ? now_us + Arbiter::kTransitionTickUs : arbiter_.NextTickUs(now_us);
  }
  // Every replica stopped through its agent (`duplex down`), bounded by the caller's loop.
  void StopAll() { agents_.StopAll(); }
  bool AllStopped() const { return agents_.AllStopped(); }
  void SendDesired(int64_t now_us);

  Status RequestSwitchover(int64_t now_us) { return arbiter_.RequestSwitchover(now_us); }
  // The status view (GET /status) without the coordinator's own fields.
  nlohmann::json View(int64_t now_us) const;
  // Writes a line to the event log (a leadership change).
  void Log(int64_t now_us, nlohmann::json event) { events_.Append(now_us, std::move(event)); }

  const Arbiter& arbiter() const { return arbiter_; }
  const AgentLinks& agents() const { return agents_; }
  UpgradesApi& api() { return api_; }

 private:
  std::string Impostor(const StatusReport& s) const;
  void Execute(int64_t now_us);
  void CountHostFailovers(int64_t now_us);

  const ClusterConfig& config_;
  const uint64_t term_;
  const std::map<std::string, std::string>* replica_routes_;
  ControlSender send_;
  std::unique_ptr<RecordStore> store_;
  Arbiter arbiter_;
  AgentLinks agents_;
  Upgrades upgrades_;
  UpgradesApi api_;
  EventLog events_;
  size_t transitions_counted_ = 0;
  std::map<std::string, uint64_t> host_failovers_ = {
      {"process_exit", 0}, {"host_unreachable", 0}, {"process_silent", 0}};
};

// What a follower shows of the cluster in GET /status: nothing it would have to vouch for.
nlohmann::json FollowerView(const ClusterConfig& config);
// Every coordinator of the config: host, admin address, control endpoint.
nlohmann::json CoordinatorsJson(const ClusterConfig& config);

}  // namespace duplex
