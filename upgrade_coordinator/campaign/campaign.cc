#include "upgrade_coordinator/campaign/campaign.h"

#include "upgrade_coordinator/campaign/states.h"

namespace duplex {

// Every wait inside a step ends before the step itself times out.
static_assert(CampaignOptions{}.resume_grace_ms < CampaignOptions{}.step_timeout_ms);
static_assert(CampaignOptions{}.switchover_wait_ms < CampaignOptions{}.step_timeout_ms);

Campaign::Campaign(CampaignRecord record, CampaignHost* host, CampaignOptions options)
    : machine_(std::make_unique<campaign::Machine>(std::move(record), host, options)) {
  machine_->initiate();
}
Campaign::~Campaign() = default;

const CampaignRecord& Campaign::record() const { return machine_->record; }

void Campaign::Tick(int64_t now_ms) {
  campaign::Machine& m = *machine_;
  DUPLEX_ASSERT(now_ms >= m.now_ms, "now_ms", now_ms, "last", m.now_ms);
  m.now_ms = now_ms;
  m.reacting = true;
  m.process_event(campaign::EvTick());
  m.reacting = false;
}

Status Campaign::Abort(const std::string& why) {
  campaign::Machine& m = *machine_;
  if (m.record.finalized) {
    return FailedPrecondition("the campaign is finalized: the cluster runs " + m.record.to +
                              " features and cannot fall back to " + m.record.from);
  }
  if (m.record.Done()) {
    return FailedPrecondition("the campaign is already " + Name(m.record.state));
  }
  if (m.record.state == CampaignState::kRollingBack) {
    return FailedPrecondition("already rolling back");
  }
  m.abort_reason = why;
  m.reacting = true;
  // Not ticked yet: leave Resuming first, so that Running can take the abort.
  if (m.state_cast<const campaign::Resuming*>() != nullptr) m.process_event(campaign::EvTick());
  m.process_event(campaign::EvAbort());
  m.reacting = false;
  return Status::Ok();
}

Status Campaign::Finalize() {
  campaign::Machine& m = *machine_;
  auto waits = FinalizeWaitsFor();
  if (!waits.empty()) {
    std::string all;
    for (const auto& w : waits) all += (all.empty() ? "" : "; ") + w;
    return FailedPrecondition("finalize waits for: " + all);
  }
  m.record.finalize_requested = true;
  m.host->Persist(m.record);
  return Status::Ok();
}

std::vector<std::string> Campaign::FinalizeWaitsFor() const {
  const campaign::Machine& m = *machine_;
  std::vector<std::string> out;
  if (m.record.Done()) {
    out.push_back("nothing: the campaign is " + Name(m.record.state));
    return out;
  }
  if (m.record.state == CampaignState::kRollingBack) {
    out.push_back("nothing: the campaign is rolling back");
  }
  for (const std::string& r : {m.record.first, m.record.second}) {
    if (r.empty()) continue;
    auto rep = m.host->Report(r);
    if (!rep) {
      out.push_back("replica " + r + " to report");
    } else if (rep->version != m.record.to) {
      out.push_back("replica " + r + " runs " + rep->version + ", not " + m.record.to);
    } else if (r != m.host->ActiveName() && !m.host->InSync(r)) {
      out.push_back("replica " + r + " to be in sync");
    }
  }
  if (m.record.state != CampaignState::kAwaitingFinalize && !m.record.finalized) {
    out.push_back("the soak and post-validation to finish");
  }
  return out;
}

void Campaign::OnWorkDone(WorkKind kind, const Status& result) {
  campaign::Machine& m = *machine_;
  // From within a reaction (a host that answers inside StartWork): handled once the
  // running event is done, as Boost.Statechart does not nest reactions.
  if (m.reacting) {
    m.Post(campaign::EvWorkDone(kind, result));
    return;
  }
  m.process_event(campaign::EvWorkDone(kind, result));
}

std::vector<std::pair<CampaignStep, std::string>> CampaignSteps() {
  using S = CampaignStep;
  std::vector<std::pair<CampaignStep, std::string>> steps = {
      {S::kVerify, "the package is stored and its checksum verified"},
      {S::kDistribute, "the package reaches every host that will run it, verified by its agent"},
      {S::kPreValidate, "platform requirements, compatibility window, state converters"},
      {S::kPreHealthCheck, "both replicas healthy and in sync"},
      {S::kVetoRound, "every replica (and its application) may refuse; --force overrides"},
      {S::kTakeLock, "exclusive management lock: no switchover or second campaign"},
      {S::kBackup, "state checkpoint of the active + the running package, kept for diagnosis"},
      {S::kIsolateFirst, "take the standby out of service; the active goes solo"},
      {S::kReloadFirst, "restart it with the new version, new features off"},
      {S::kSyncFirst, "make it standby again; catch-up converts state to its schema"},
      {S::kSwitchToNew, "switch over: the new version active, the old one its standby"},
      {S::kSoak, "evaluate: health and the application's checks for the soak time, digests equal"},
      {S::kIsolateSecond, "take the old-version replica out of service"},
      {S::kReloadSecond, "restart it with the new version, new features off"},
      {S::kSyncSecond, "make it standby again and catch up"},
      {S::kPostValidate, "both replicas report the new version, digests equal"},
      {S::kPostHealthCheck, "both replicas healthy and in sync"},
      {S::kAwaitFinalize, "until `upgrade finalize` (or --auto-finalize)"},
      {S::kFinalize, "raise the cluster version: the new features are enabled"},
      {S::kReleaseLock, "release the management lock"},
      {S::kCleanup, "remove temporary files; the migration archive is kept"}};
  // The plan lists the happy path's steps in enumerator order (names.h), and only those.
  for (size_t i = 0; i < steps.size(); ++i) {
    DUPLEX_ASSERT(steps[i].first == static_cast<CampaignStep>(i), "the plan is in step order",
                  Name(steps[i].first), i);
  }
  DUPLEX_ASSERT(steps.back().first == S::kCleanup, "the plan ends with the cleanup", steps.size());
  return steps;
}

}  // namespace duplex
