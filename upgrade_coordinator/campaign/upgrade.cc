// UpgradeFirst and UpgradeSecond: isolate a replica, reload it with the new version
// (features off), and make it a standby again that catches up in its own schema.
#include "upgrade_coordinator/campaign/states.h"

namespace duplex::campaign {
namespace {

constexpr int64_t kReloadTimeoutMs = 15000;  // a release that cannot start fails here

const std::string& Target(const Machine& m, bool first) {
  // PreHealthCheck chose the order before anything changed, and it is persisted.
  DUPLEX_ASSERT(!m.record.first.empty() && m.record.first != m.record.second, "first",
                m.record.first, "second", m.record.second);
  return first ? m.record.first : m.record.second;
}

StepResult Isolate(Machine& m, bool first, bool* isolated) {
  const std::string& r = Target(m, first);
  if (m.host->ActiveName() == r) return StepResult::Nok(r + " is active: it cannot be isolated");
  if (Once(isolated)) m.host->Isolate(r, true);
  auto rep = m.host->Report(r);
  if (!rep || rep->role == WireRole::kOutOfService) return StepResult::Ok();
  return m.TimedOut() ? StepResult::Nok(r + " did not leave service") : StepResult::Wait();
}

// The reload, issued once per step entry, and the replica's start count before it.
struct Reloading {
  std::optional<uint64_t> starts_before;
};

StepResult Reload(Machine& m, bool first, Reloading* reloading) {
  const std::string& r = Target(m, first);
  if (!reloading->starts_before) {
    reloading->starts_before = m.host->Starts(r);
    m.host->Reload(r, m.record.to);
  }
  auto rep = m.host->Report(r);
  if (rep && rep->version == m.record.to) return StepResult::Ok();
  // One start is the reload itself; two more mean the release dies at start.
  uint64_t restarts = m.host->Starts(r) - *reloading->starts_before;
  if (restarts >= 3) {
    return StepResult::Nok(r + " exited at start " + std::to_string(restarts) + " times with " +
                           m.record.to);
  }
  if (m.StepElapsedMs() > kReloadTimeoutMs) {
    return StepResult::Nok(r + " did not come up with " + m.record.to + " within " +
                           std::to_string(kReloadTimeoutMs / 1000) + " s");
  }
  return StepResult::Wait();
}

StepResult Sync(Machine& m, bool first, bool* rejoined) {
  const std::string& r = Target(m, first);
  if (Once(rejoined)) m.host->Isolate(r, false);
  auto rep = m.host->Report(r);
  if (!rep) {
    return m.StepElapsedMs() > kReloadTimeoutMs ? StepResult::Nok(r + " stopped reporting")
                                                : StepResult::Wait();
  }
  if (rep->version != m.record.to) return StepResult::Nok(r + " runs " + rep->version);
  if (m.host->InSync(r)) return StepResult::Ok();
  return m.TimedOut() ? StepResult::Nok(r + " did not catch up (" + rep->health_detail + ")")
                      : StepResult::Wait();
}

struct IsolateFirst;
struct ReloadFirst;
struct SyncFirst;
struct IsolateSecond;
struct ReloadSecond;
struct SyncSecond;

struct IsolateFirst : Step<IsolateFirst, UpgradeFirst, ReloadFirst, RollingBack> {
  static constexpr CampaignStep kStep = CampaignStep::kIsolateFirst;
  StepResult Run(Machine& m) { return Isolate(m, true, &isolated_); }
  bool isolated_ = false;
};
struct ReloadFirst : Step<ReloadFirst, UpgradeFirst, SyncFirst, RollingBack> {
  static constexpr CampaignStep kStep = CampaignStep::kReloadFirst;
  StepResult Run(Machine& m) { return Reload(m, true, &reloading_); }
  Reloading reloading_;
};
struct SyncFirst : Step<SyncFirst, UpgradeFirst, Evaluate, RollingBack> {
  static constexpr CampaignStep kStep = CampaignStep::kSyncFirst;
  StepResult Run(Machine& m) { return Sync(m, true, &rejoined_); }
  bool rejoined_ = false;
};
struct IsolateSecond : Step<IsolateSecond, UpgradeSecond, ReloadSecond, RollingBack> {
  static constexpr CampaignStep kStep = CampaignStep::kIsolateSecond;
  StepResult Run(Machine& m) { return Isolate(m, false, &isolated_); }
  bool isolated_ = false;
};
struct ReloadSecond : Step<ReloadSecond, UpgradeSecond, SyncSecond, RollingBack> {
  static constexpr CampaignStep kStep = CampaignStep::kReloadSecond;
  StepResult Run(Machine& m) { return Reload(m, false, &reloading_); }
  Reloading reloading_;
};
struct SyncSecond : Step<SyncSecond, UpgradeSecond, Conclude, RollingBack> {
  static constexpr CampaignStep kStep = CampaignStep::kSyncSecond;
  StepResult Run(Machine& m) { return Sync(m, false, &rejoined_); }
  bool rejoined_ = false;
};

}  // namespace

UpgradeFirst::UpgradeFirst(my_context ctx) : my_base(ctx) {
  outermost_context().EnterPhase(CampaignPhase::kUpgradeFirst);
}
sc::result UpgradeFirstEntry::react(const EvTick&) { return transit<IsolateFirst>(); }

UpgradeSecond::UpgradeSecond(my_context ctx) : my_base(ctx) {
  outermost_context().EnterPhase(CampaignPhase::kUpgradeSecond);
}
sc::result UpgradeSecondEntry::react(const EvTick&) { return transit<IsolateSecond>(); }

}  // namespace duplex::campaign
