// Campaign: one rolling upgrade of the pair, as a Boost.Statechart machine
// (campaign/machine.h draws the state tree). Sans-I/O: it reads the cluster
// through CampaignHost and acts only through it; the coordinator ticks it.
// Every phase change is persisted (CampaignHost::Persist) before the phase
// acts, so a coordinator restarted at any point resumes the campaign.
// Single-threaded (the coordinator's event loop).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "upgrade_coordinator/campaign/host.h"
#include "upgrade_coordinator/campaign/names.h"
#include "upgrade_coordinator/campaign/record.h"

namespace duplex {

namespace campaign {
struct Machine;
}

class Campaign {
 public:
  // A new campaign (record.phase kNew) or one resumed from its persisted record.
  Campaign(CampaignRecord record, CampaignHost* host, CampaignOptions options = {});
  ~Campaign();

  void Tick(int64_t now_ms);
  // Rolls back from wherever it is; refused after finalize.
  Status Abort(const std::string& why);
  // Enables the new features once every predicate holds; the error names the missing one.
  Status Finalize();
  // The result of work started through CampaignHost::StartWork: delivered to the step that
  // started it; a step that has moved on ignores it. The host may call this from within
  // StartWork: the result then arrives after the running tick.
  void OnWorkDone(WorkKind kind, const Status& result);

  const CampaignRecord& record() const;
  // Predicates finalize still waits for ("replica b runs 1.0.0", ...); empty when none.
  std::vector<std::string> FinalizeWaitsFor() const;

 private:
  std::unique_ptr<campaign::Machine> machine_;
};

// The steps of a campaign that completes, in order, with what each does (`upgrade plan`).
std::vector<std::pair<CampaignStep, std::string>> CampaignSteps();

}  // namespace duplex
