// Conclude: both replicas on the new version with equal state, then — only now —
// the new features are enabled (finalize), the lock released and the campaign done.
#include "upgrade_coordinator/campaign/states.h"

namespace duplex::campaign {
namespace {

struct PostValidate;
struct PostHealthCheck;
struct AwaitFinalize;
struct FinalizeStep;
struct ReleaseLock;
struct Cleanup;

struct PostValidate : Step<PostValidate, Conclude, PostHealthCheck, RollingBack> {
  static constexpr CampaignStep kStep = CampaignStep::kPostValidate;
  StepResult Run(Machine& m) {
    if (m.record.finalized) return StepResult::Ok("already finalized");  // resumed: no way back
    for (const std::string& r : {m.record.first, m.record.second}) {
      auto rep = m.host->Report(r);
      if (!rep) return m.TimedOut() ? StepResult::Nok(r + " is not reporting") : StepResult::Wait();
      if (rep->version != m.record.to) return StepResult::Nok(r + " runs " + rep->version);
    }
    return AwaitDigests(m, &digests_, &work_, "both on " + m.record.to + ", digests equal");
  }
  DigestWait digests_;
};

struct PostHealthCheck : Step<PostHealthCheck, Conclude, AwaitFinalize, RollingBack> {
  static constexpr CampaignStep kStep = CampaignStep::kPostHealthCheck;
  StepResult Run(Machine& m) {
    if (m.record.finalized) return StepResult::Ok("already finalized");
    std::string active = m.host->ActiveName();
    std::string problem = active.empty() ? "no active replica" : HealthProblem(m, active);
    std::string standby = active.empty() ? "" : m.host->OtherName(active);
    if (problem.empty()) problem = HealthProblem(m, standby);
    if (problem.empty() && !m.host->InSync(standby)) problem = standby + " is not in sync";
    if (problem.empty()) return StepResult::Ok();
    return m.TimedOut() ? StepResult::Nok(problem) : StepResult::Wait();
  }
};

struct AwaitFinalize : Step<AwaitFinalize, Conclude, FinalizeStep, RollingBack> {
  static constexpr CampaignStep kStep = CampaignStep::kAwaitFinalize;
  StepResult Run(Machine& m) {
    if (m.record.auto_finalize || m.record.finalize_requested) return StepResult::Ok();
    if (m.record.state != CampaignState::kAwaitingFinalize) {
      m.SetState(CampaignState::kAwaitingFinalize);
      m.host->Persist(m.record);
    }
    return StepResult::Wait();  // the operator decides; no timeout
  }
};

struct FinalizeStep : Step<FinalizeStep, Conclude, ReleaseLock, RollingBack> {
  static constexpr CampaignStep kStep = CampaignStep::kFinalize;
  StepResult Run(Machine& m) {
    // Only AwaitFinalize leads here, and it waits for one of these.
    DUPLEX_ASSERT(m.record.auto_finalize || m.record.finalize_requested, "campaign", m.record.id);
    if (!m.record.finalized) {
      // Persisted first: from here on the cluster never falls back below this version.
      m.record.finalized = true;
      m.SetState(CampaignState::kRunning);
      m.host->Persist(m.record);
    }
    if (Once(&raised_)) m.host->SetClusterVersion(m.record.to);
    for (const std::string& r : {m.record.first, m.record.second}) {
      auto rep = m.host->Report(r);
      if (!rep || rep->cluster_version != m.record.to) return StepResult::Wait();
    }
    return StepResult::Ok("features of " + m.record.to + " enabled on both replicas");
  }
  bool raised_ = false;
};

struct ReleaseLock : Step<ReleaseLock, Conclude, Cleanup, RollingBack> {
  static constexpr CampaignStep kStep = CampaignStep::kReleaseLock;
  StepResult Run(Machine& m) {
    m.host->SetLock(false);
    return StepResult::Ok();
  }
};

struct Cleanup : Step<Cleanup, Conclude, Completed, RollingBack> {
  static constexpr CampaignStep kStep = CampaignStep::kCleanup;
  StepResult Run(Machine& m) {
    (void)m;  // nothing temporary survives a step; the migration archive is kept on purpose
    return StepResult::Ok();
  }
};

}  // namespace

Conclude::Conclude(my_context ctx) : my_base(ctx) {
  outermost_context().EnterPhase(CampaignPhase::kConclude);
}
sc::result ConcludeEntry::react(const EvTick&) { return transit<PostValidate>(); }

}  // namespace duplex::campaign
