// Campaign: one rolling upgrade of the pair, as a Boost.Statechart machine
// (campaign/machine.h draws the state tree). Sans-I/O: it reads the cluster
// through CampaignHost and acts only through it; the coordinator ticks it.
// Every phase change is persisted (CampaignHost::Persist) before the phase
// acts, so a coordinator restarted at any point resumes the campaign.
// Single-threaded (the coordinator's event loop).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "replica/frame.h"

namespace duplex {

struct StepRecord {
  std::string step;
  std::string result;  // "running", "ok", "nok"
  std::string reason;
  int64_t started_ms = 0;
  int64_t ended_ms = 0;
};

// The durable part of a campaign.
struct CampaignRecord {
  uint64_t id = 0;
  std::string from, to;  // versions
  int64_t soak_ms = 5000;
  bool auto_finalize = false;
  bool force = false;         // vetoes overridden (recorded)
  std::string first, second;  // replicas in upgrade order (first = the standby at start)
  std::string phase;          // composite state to resume in (see machine.h)
  std::string state;   // "running", "rolling back", "awaiting finalize", "completed", "rolled back"
  std::string reason;  // why it rolled back
  bool finalize_requested = false;
  bool finalized = false;
  std::vector<StepRecord> steps;
  // Baseline of the old active before anything changed (for the evaluation), and the new
  // active's counters when the soak began.
  uint64_t baseline_requests = 0, baseline_errors = 0, baseline_latency_p99_us = 0;
  uint64_t soak_requests = 0, soak_errors = 0;
  bool Done() const { return state == "completed" || state == "rolled back"; }
};

std::string CampaignToJson(const CampaignRecord& record);
StatusOr<CampaignRecord> CampaignFromJson(const std::string& text);

// What the campaign needs from the coordinator. Commands are idempotent.
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
  // CheckPackage only looks the package up; the checksum is verified by StartWork("verify").
  virtual std::string CheckPackage(const std::string& version) const = 0;
  virtual std::string CheckCompatibility(const std::string& from, const std::string& to) const = 0;
  // Commands.
  virtual void Persist(const CampaignRecord& record) = 0;  // durable before returning
  virtual void Isolate(const std::string& replica, bool isolated) = 0;
  virtual void Reload(const std::string& replica, const std::string& version) = 0;
  virtual Status Switchover() = 0;
  virtual void SetClusterVersion(const std::string& version) = 0;
  virtual void SetLock(bool held) = 0;
  // Work that blocks (digest comparison, backup) runs beside the loop; its result comes
  // back through Campaign::OnWorkDone(kind, status).
  virtual void StartWork(const std::string& kind) = 0;  // "verify", "backup", "digests"
};

struct CampaignOptions {
  int64_t step_timeout_ms = 60000;  // any wait within a step
  int64_t switchover_wait_ms = 10000;
  // A resumed campaign waits this long at most for both replicas to report again.
  int64_t resume_grace_ms = 1000;
  // Evaluation thresholds, relative to the baseline measured before the campaign.
  double max_error_rate_increase = 0.01;  // absolute: 1 percentage point
  double max_latency_factor = 3.0;        // p99 may grow this much ...
  int64_t latency_slack_us = 50000;       // ... or by this much, whichever is more
  uint64_t min_requests_to_judge = 100;   // fewer answers than this: rates are noise
  // Pre health check: the active's load, sampled over load_sample_ms, must stay under this.
  double max_load_ops_per_s = 200000;
  int64_t load_sample_ms = 500;
};

class Campaign {
 public:
  // A new campaign (record.phase empty) or one resumed from its persisted record.
  Campaign(CampaignRecord record, CampaignHost* host, CampaignOptions options = {});
  ~Campaign();

  void Tick(int64_t now_ms);
  // Rolls back from wherever it is; refused after finalize.
  Status Abort(const std::string& why);
  // Enables the new features once every predicate holds; the error names the missing one.
  Status Finalize();
  void OnWorkDone(const std::string& kind, const Status& result);

  const CampaignRecord& record() const;
  // Predicates finalize still waits for ("replica b runs 1.0.0", ...); empty when none.
  std::vector<std::string> FinalizeWaitsFor() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The steps of a campaign, in order, with what each does (for `upgrade plan`).
std::vector<std::pair<std::string, std::string>> CampaignSteps();

}  // namespace duplex
