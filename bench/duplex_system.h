// The duplex side of the benchmarks: real pairs started through ClusterFixture (a
// coordinator and two kv replicas per deployment), driven by the load generator and the
// recording workload the chaos harness uses.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bench/system.h"
#include "chaos/cluster_fixture.h"
#include "upgrade_coordinator/campaign/names.h"

namespace duplex::bench {

struct UpgradeTrial {
  uint64_t keys = 0;
  std::optional<CampaignState> end;  // none when it did not end
  std::string outcome;               // "completed", "rolled_back", or why it did not end
  double duration_ms = 0;
  double unavailability_ms = 0;
  double unavailability_at_ms = 0;                             // from the campaign's start
  std::string unavailability_step;                             // the campaign step it began in
  std::vector<std::pair<std::string, double>> gap_by_step_ms;  // each step's longest gap
  // The same pair and load just before, without a campaign: its longest gap is what the
  // machine alone costs (fsync hiccups, scheduling) over a window of this length.
  double steady_window_ms = 0;
  double steady_gap_ms = 0;
  uint64_t failed_requests = 0;
  uint64_t lost = 0;
  uint64_t double_applied = 0;
};

class DuplexSystem final : public System {
 public:
  explicit DuplexSystem(SystemOptions options) : options_(std::move(options)) {}
  ~DuplexSystem() override { Stop(); }

  std::string Name() const override { return options_.name; }
  std::string Describe() const override;
  StatusOr<LoadTrial> Load(const LoadSpec& spec) override;
  // Load, with `around` wrapped around the load itself, given the active's and the standby's
  // pids (-1 when unknown): the profile attaches perf there.
  using LoadHook = std::function<StatusOr<LoadResult>(
      pid_t active, pid_t standby, const std::function<StatusOr<LoadResult>()>& load)>;
  StatusOr<LoadTrial> LoadWith(const LoadSpec& spec, const LoadHook& around);
  StatusOr<FailoverTrial> Failover(int signal) override;
  StatusOr<SwitchoverTrial> Switchover() override;
  StatusOr<MemoryTrial> Memory(uint64_t keys) override;
  void Stop() override { clusters_.clear(); }

  // A rolling upgrade to kv 2.0.0 under three writers, of the pair Memory() loaded (of a
  // fresh one holding `keys` keys when Memory() did not run). `progress` gets each step.
  StatusOr<UpgradeTrial> Upgrade(uint64_t keys, double steady_seconds,
                                 const std::function<void(const std::string&)>& progress);

 private:
  // The deployment `name` ("sync", "async", "faults", "loaded"), started on first use.
  StatusOr<ClusterFixture*> Cluster(const std::string& name);
  StatusOr<MemoryTrial> LoadKeys(ClusterFixture& cluster, uint64_t keys);

  SystemOptions options_;
  std::map<std::string, std::unique_ptr<ClusterFixture>> clusters_;
  uint64_t loaded_keys_ = 0;  // in "loaded"
  int trials_ = 0;            // distinct key prefixes per trial
};

}  // namespace duplex::bench
