// Resuming, Running's abort and the two ends of a campaign (tree in machine.h).
#include "upgrade_coordinator/campaign/states.h"

namespace duplex::campaign {

// A restarted coordinator re-enters the persisted phase on its first tick, and Conclude
// checks the digests and health again before it awaits finalize. Until then the campaign
// must not show "awaiting finalize" from the record: an operator shown it would have a
// finalize refused a moment later ("the soak and post-validation to finish").
Resuming::Resuming(my_context ctx) : my_base(ctx) {
  Machine& m = outermost_context();
  if (m.record.state == CampaignState::kAwaitingFinalize) m.SetState(CampaignState::kRunning);
}

sc::result Resuming::react(const EvTick&) {
  using P = CampaignPhase;
  Machine& m = outermost_context();
  P p = m.record.phase;
  // A restarted coordinator has heard from nobody yet: judging a step now would read
  // "replica a is not reporting" from its own restart (a Soak resumed 3 ms after the
  // restart failed on the standby's first heartbeat not having arrived). Wait for both
  // replicas, bounded: one that stays silent is judged by the step as before.
  bool mid_campaign = p != P::kNew && !m.record.Done();
  if (mid_campaign && m.Since(&resumed_ms_) < m.options.resume_grace_ms) {
    for (const std::string& r : {m.record.first, m.record.second}) {
      if (!r.empty() && !m.host->Report(r)) return discard_event();
    }
  }
  switch (p) {
    case P::kNew:
    case P::kPrepare:
      return transit<Prepare>();  // new, or interrupted while preparing: nothing done yet
    case P::kUpgradeFirst:
      return transit<UpgradeFirst>();
    case P::kEvaluate:
      return transit<Evaluate>();
    case P::kUpgradeSecond:
      return transit<UpgradeSecond>();
    case P::kConclude:
      return transit<Conclude>();
    case P::kRollingBack:
      return transit<RollingBack>();
    case P::kCompleted:
      return transit<Completed>();
    case P::kRolledBack:
      return transit<RolledBack>();
  }
  DUPLEX_ASSERT(false, "phase", static_cast<int>(p));
  return discard_event();
}

sc::result Running::react(const EvAbort&) {
  Machine& m = outermost_context();
  DUPLEX_ASSERT(!m.record.finalized && m.record.state != CampaignState::kRollingBack, "state",
                Name(m.record.state));
  if (m.record.reason.empty()) m.record.reason = m.abort_reason;
  if (m.step_open) m.EndStep(StepResult::Nok(m.abort_reason));
  return transit<RollingBack>();
}

Completed::Completed(my_context ctx) : my_base(ctx) {
  outermost_context().EnterPhase(CampaignPhase::kCompleted, CampaignState::kCompleted);
}

RolledBack::RolledBack(my_context ctx) : my_base(ctx) {
  outermost_context().EnterPhase(CampaignPhase::kRolledBack, CampaignState::kRolledBack);
}

}  // namespace duplex::campaign
