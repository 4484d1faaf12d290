// RollingBack: whatever was done, converge back to the starting point — the old
// version active, the other replica on the old version and in sync, lock released.
// Every step is a convergence check, so it also resumes correctly after a restart.
// It never gives up silently: while it waits, the campaign's reason says on what.
#include <spdlog/spdlog.h>

#include <set>

#include "upgrade_coordinator/campaign/states.h"

namespace duplex::campaign {
namespace {

struct RestoreActive;
struct RestoreStandby;
struct ReleaseLockBack;

bool RunsOld(const Machine& m, const std::string& r) {
  return m.host->AssignedVersion(r) == m.record.from;
}

void Waiting(Machine& m, const std::string& on) {
  std::string text = "rolling back: waiting for " + on;
  if (m.TimedOut() && m.record.steps.back().reason != text) {
    m.record.steps.back().reason = text;  // say why, and keep trying
    m.host->Persist(m.record);
    spdlog::warn("campaign {}: {}", m.record.id, text);
  }
}

// What OldVersionActive issued during one step: each command once, the switchover once
// per wait.
struct Converging {
  std::set<std::string> reloaded;  // last-resort reloads, by replica
  bool reloaded_other = false;
  bool rejoined_other = false;
  std::optional<int64_t> switchover_ms;  // when the switchover was last requested
};

// Converges on the old version being active: true once it is; otherwise asks for what
// is missing (the other replica back on the old version, in sync, a switchover to it) and
// says what it waits for. Both steps call it: a switchover requested before the rollback
// (say, by SwitchToNew) may still complete after RestoreActive found the old one active,
// and must be undone.
bool OldVersionActive(Machine& m, Converging* c) {
  std::string active = m.host->ActiveName();
  if (!active.empty()) m.host->Isolate(active, false);  // never leave the active isolated
  if (!active.empty() && RunsOld(m, active)) return true;
  if (active.empty()) {
    // Nobody serves, for longer than a step may take. The replica the arbiter waits for
    // (the one holding the last writes) may be isolated, or on the new version and never
    // start again (a release that crashes at start): as a last resort, every replica back
    // in service on the old version, so that one can be elected.
    // Not sooner: an active is missing for a moment in every failover.
    if (m.TimedOut()) {
      for (const std::string& r : {m.record.first, m.record.second}) {
        if (r.empty()) continue;
        m.host->Isolate(r, false);
        if (!RunsOld(m, r) && c->reloaded.insert(r).second) m.host->Reload(r, m.record.from);
      }
    }
    Waiting(m, "an active replica");
    return false;
  }
  std::string other = m.host->OtherName(active);
  if (!RunsOld(m, other)) {
    // Both run the new version (the second was being upgraded): bring one back first.
    if (Once(&c->reloaded_other)) m.host->Reload(other, m.record.from);
    if (Once(&c->rejoined_other)) m.host->Isolate(other, false);
    Waiting(m, other + " to run " + m.record.from);
    return false;
  }
  m.host->Isolate(other, false);
  if (!m.host->InSync(other)) {
    Waiting(m, other + " (" + m.record.from + ") to be in sync");
    return false;
  }
  if (!c->switchover_ms) {
    c->switchover_ms = m.now_ms;
    (void)m.host->Switchover();
  }
  if (m.Since(&c->switchover_ms) > m.options.switchover_wait_ms) {
    c->switchover_ms.reset();  // retry once per wait
  }
  Waiting(m, "the switchover to " + other);
  return false;
}

struct RestoreActive : Step<RestoreActive, RollingBack, RestoreStandby, RolledBack> {
  static constexpr CampaignStep kStep = CampaignStep::kRestoreActive;
  StepResult Run(Machine& m) {
    if (!OldVersionActive(m, &converging_)) return StepResult::Wait();
    return StepResult::Ok(m.host->ActiveName() + " is active");
  }
  Converging converging_;
};

struct RestoreStandby : Step<RestoreStandby, RollingBack, ReleaseLockBack, RolledBack> {
  static constexpr CampaignStep kStep = CampaignStep::kRestoreStandby;
  StepResult Run(Machine& m) {
    if (!OldVersionActive(m, &converging_)) return StepResult::Wait();
    std::string active = m.host->ActiveName();
    std::string standby = m.host->OtherName(active);
    m.host->Isolate(standby, false);
    auto before = m.host->Report(standby);
    bool untouched =
        !m.Touched() && RunsOld(m, standby) && (!before || before->version == m.record.from);
    if (untouched) return StepResult::Ok("nothing was changed");  // a pre-check said no
    if (!RunsOld(m, standby) && Once(&reloaded_)) m.host->Reload(standby, m.record.from);
    auto rep = m.host->Report(standby);
    if (rep && rep->version == m.record.from && m.host->InSync(standby)) {
      return StepResult::Ok(standby + " back on " + m.record.from + " and in sync");
    }
    Waiting(m, standby + " to resync on " + m.record.from);
    return StepResult::Wait();
  }
  Converging converging_;
  bool reloaded_ = false;
};

struct ReleaseLockBack : Step<ReleaseLockBack, RollingBack, RolledBack, RolledBack> {
  static constexpr CampaignStep kStep = CampaignStep::kReleaseLock;
  StepResult Run(Machine& m) {
    m.host->SetLock(false);
    return StepResult::Ok();
  }
};

}  // namespace

RollingBack::RollingBack(my_context ctx) : my_base(ctx) {
  outermost_context().EnterPhase(CampaignPhase::kRollingBack, CampaignState::kRollingBack);
}
sc::result RollingBackEntry::react(const EvTick&) { return transit<RestoreActive>(); }

}  // namespace duplex::campaign
