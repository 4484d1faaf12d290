// CampaignHost: what the campaign machine needs from the coordinator (the daemon's
// Upgrades, the simulator's host), and CampaignOptions, its limits. Commands are
// idempotent. Called on the coordinator's loop thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/status.h"
#include "replica/frame.h"
#include "upgrade_coordinator/campaign/record.h"

namespace duplex {

// Where a package's distribution stands.
struct Distribution {
  bool done = false;     // every host that will run it holds it
  std::string problem;   // "" unless it cannot succeed (a host refused it three times)
  std::string progress;  // "h1 done, h2 31%"
};

class CampaignHost {
 public:
  virtual ~CampaignHost() = default;
  // Observations.
  virtual std::string ActiveName() const = 0;
  virtual std::string OtherName(const std::string& replica) const = 0;
  // The replica's latest report, if its process runs and reported recently.
  virtual std::optional<StatusReport> Report(const std::string& replica) const = 0;
  // Recorded in sync by the coordinator and following the live stream.
  virtual bool InSync(const std::string& replica) const = 0;
  virtual std::string AssignedVersion(const std::string& replica) const = 0;
  // How many times the coordinator has started the replica's process (crash loops show here).
  virtual uint64_t Starts(const std::string& replica) const = 0;
  // Checks that need the package store or the machine: empty string when fine.
  // CheckPackage only looks the package up; the checksum is verified by WorkKind::kVerify.
  virtual std::string CheckPackage(const std::string& version) const = 0;
  virtual std::string CheckCompatibility(const std::string& from, const std::string& to) const = 0;
  // Starts, or continues, sending the package of `version` to every host that will run it;
  // done when each host's agent holds it.
  virtual Distribution DistributePackage(const std::string& version) = 0;
  // Commands.
  virtual void Persist(const CampaignRecord& record) = 0;  // durable before returning
  virtual void Isolate(const std::string& replica, bool isolated) = 0;
  virtual void Reload(const std::string& replica, const std::string& version) = 0;
  virtual Status Switchover() = 0;
  virtual void SetClusterVersion(const std::string& version) = 0;
  virtual void SetLock(bool held) = 0;
  // Work that blocks (digest comparison, backup) runs beside the loop; its result comes
  // back through Campaign::OnWorkDone(kind, status).
  virtual void StartWork(WorkKind kind) = 0;
};

// The feature gate at a reload: whether assigning `version` to one replica also turns
// that version's features on. A host's Reload asks it.
using FeaturesOnReload = bool (*)(const std::string& version);

// The rule: never. Features wait until every replica runs the version (the campaign's
// conclusion sets the cluster version), or a replica of the old version would meet state
// or messages it cannot read.
constexpr bool FeaturesWaitForEveryReplica(const std::string&) { return false; }

struct CampaignOptions {
  int64_t step_timeout_ms = 60000;  // any wait within a step
  int64_t switchover_wait_ms = 10000;
  // A resumed campaign waits this long at most for both replicas to report again.
  int64_t resume_grace_ms = 1000;
  // Evaluation thresholds, relative to the baseline measured before the campaign.
  double error_rate_increase_max = 0.01;  // absolute: 1 percentage point
  double latency_factor_max = 3.0;        // p99 may grow this much ...
  int64_t latency_slack_us = 50000;       // ... or by this much, whichever is more
  uint64_t requests_to_judge_min = 100;   // fewer answers than this: rates are noise
  // Pre health check: the active's load, sampled over load_sample_ms, must stay under this.
  double load_ops_per_s_max = 200000;
  int64_t load_sample_ms = 500;
};

}  // namespace duplex
