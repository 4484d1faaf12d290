// CampaignRecord: the durable part of a campaign, persisted on every change (see
// CampaignHost::Persist) and served by the admin API as JSON. The JSON keeps the names of
// campaign/names.h, so a record written by an older coordinator loads. Plain values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "upgrade_coordinator/campaign/names.h"

namespace duplex {

struct StepRecord {
  CampaignStep step = CampaignStep::kVerify;
  StepOutcome result = StepOutcome::kRunning;
  std::string reason;
  int64_t started_ms = 0;
  int64_t ended_ms = 0;
};

struct CampaignRecord {
  uint64_t id = 0;
  std::string from, to;  // versions
  std::string package;   // the package's name ("" = the one stored package of version `to`)
  int64_t soak_ms = 5000;
  bool auto_finalize = false;
  bool force = false;         // vetoes overridden (recorded)
  std::string first, second;  // replicas in upgrade order (first = the standby at start)
  CampaignPhase phase = CampaignPhase::kNew;  // composite state to resume in (see machine.h)
  CampaignState state = CampaignState::kRunning;
  std::string reason;  // why it rolled back
  bool finalize_requested = false;
  bool finalized = false;
  std::vector<StepRecord> steps;
  // Baseline of the old active before anything changed (for the evaluation), and the new
  // active's counters when the soak began.
  uint64_t baseline_requests = 0, baseline_errors = 0, baseline_latency_p99_us = 0;
  uint64_t soak_requests = 0, soak_errors = 0;
  bool Done() const { return Ended(state); }
};

std::string CampaignToJson(const CampaignRecord& record);
// The error names the field whose value is not one of the known names.
StatusOr<CampaignRecord> CampaignFromJson(const std::string& text);

}  // namespace duplex
