// EventLog: the coordinator's record of what happened, one JSON object per line in
// <data_dir>/events.jsonl — every change of a replica's reported role, epoch, version
// or enabled cluster version, of the cluster record, and of the campaign's steps.
// Written by diffing what the coordinator sees after each loop turn, so it costs one
// comparison per replica when nothing changes. The chaos checker and the upgrade
// tests read it to check invariants after the fact (e.g. that no feature was enabled
// while an old-version replica ran). Loop thread only.
#pragma once

#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "upgrade_coordinator/arbiter.h"
#include "upgrade_coordinator/campaign/campaign.h"

namespace duplex {

class EventLog {
 public:
  ~EventLog();
  Status Open(const std::string& path);  // appends: a restarted coordinator continues the log
  // Keeps the events in memory instead (the simulator), with times from Observe's now_us.
  void KeepInMemory() { in_memory_ = true; }
  const std::vector<nlohmann::json>& kept() const { return kept_; }
  // Writes `event` (an object with a "kind") as it is: a leadership change.
  void Append(int64_t now_us, nlohmann::json event) { Write(now_us, std::move(event)); }
  // Logs what changed since the last call; `campaign` may be null.
  void Observe(int64_t now_us, const Arbiter& arbiter, const CampaignRecord* campaign);

  // What was last logged, compared field by field on every call.
  struct ReplicaSeen {
    bool alive = false;
    int64_t pid = 0;
    bool reported = false;  // the rest is known
    std::string role;
    uint64_t epoch = 0;
    std::string version, cluster_version;
    bool operator==(const ReplicaSeen&) const = default;
  };
  struct ClusterSeen {
    uint64_t epoch = 0;
    std::string active, cluster_version;
    std::map<std::string, std::string> versions;
    std::map<std::string, bool> isolated;
    bool lock = false;
    bool operator==(const ClusterSeen&) const = default;
  };
  struct CampaignSeen {
    uint64_t id = 0;
    CampaignState state = CampaignState::kRunning;
    std::optional<CampaignStep> step;  // none before the first step
    std::optional<StepOutcome> result;
    std::string reason;
    bool operator==(const CampaignSeen&) const = default;
  };

 private:
  void Write(int64_t now_us, nlohmann::json event);

  std::FILE* file_ = nullptr;
  bool in_memory_ = false;
  std::vector<nlohmann::json> kept_;
  std::map<std::string, ReplicaSeen> replicas_;  // by name
  std::optional<ClusterSeen> cluster_;
  std::optional<CampaignSeen> campaign_;
  int64_t last_us_ = 0;  // the last Observe's time
};

// Reads an events.jsonl; the error names the line that is not JSON.
// ParseEventLog: the same over its text, `source` naming it in errors (pure; fuzzed by
// fuzz/history_fuzz.cc).
StatusOr<std::vector<nlohmann::json>> ParseEventLog(std::string_view text,
                                                    const std::string& source);
StatusOr<std::vector<nlohmann::json>> ReadEventLog(const std::string& path);

}  // namespace duplex
