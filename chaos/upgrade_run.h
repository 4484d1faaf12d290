// Runs one rolling upgrade of a fixture cluster under a recording workload and
// measures it from the clients' side: the demo and `duplex bench upgrade` use it.
// Blocking, bounded; one thread.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "chaos/cluster_fixture.h"
#include "chaos/workload.h"
#include "upgrade_coordinator/campaign/names.h"

namespace duplex {

struct UpgradeRun {
  std::optional<CampaignState> end;  // kCompleted or kRolledBack; none when it did not end
  std::string outcome;               // the end's name, or why it did not end
  double duration_ms = 0;            // campaign start to its end
  double unavailability_ms = 0;      // longest gap between acknowledged writes meanwhile
  double unavailability_at_ms = 0;   // when that gap began, from the campaign's start
  std::string unavailability_step;   // the campaign step running when it began
  // Each step's own longest gap, in step order: where a campaign costs availability.
  std::vector<std::pair<std::string, double>> gap_by_step_ms;
  uint64_t failed_requests = 0;  // fail or unknown outcome after the client's retries
  nlohmann::json campaign;       // the coordinator's final view of the campaign
};

struct UpgradeRunOptions {
  std::string package_dir;
  int64_t soak_ms = 1000;
  int timeout_ms = 600000;
  // Without auto-finalize the run finalizes itself once the campaign awaits it, after
  // calling before_finalize (the demo shows the features still off there).
  bool auto_finalize = true;
  std::function<void()> before_finalize;
  // Each new step line ("+  1.2 s  ReloadFirst ok") and, at most once a second, the
  // running step's detail when it changed.
  std::function<void(const std::string&)> progress;
};

// Adds the package, starts the campaign and waits for its end.
StatusOr<UpgradeRun> RunUpgrade(const ClusterFixture& cluster, const Workload& workload,
                                const UpgradeRunOptions& options);

}  // namespace duplex
