#include "upgrade_coordinator/campaign/names.h"

#include <algorithm>
#include <array>
#include <ostream>
#include <utility>

#include "common/assert.h"

namespace duplex {
namespace {

// The persisted names, in enumerator order: a record written by any coordinator uses them.
const std::array<std::string, 5> kStateNames = {"running", "rolling back", "awaiting finalize",
                                                "completed", "rolled back"};
const std::array<std::string, 9> kPhaseNames = {
    "",         "Prepare",     "UpgradeFirst", "Evaluate",  "UpgradeSecond",
    "Conclude", "RollingBack", "Completed",    "RolledBack"};
const std::array<std::string, 23> kStepNames = {
    "Verify",          "Distribute",    "PreValidate",   "PreHealthCheck",
    "VetoRound",       "TakeLock",      "Backup",        "IsolateFirst",
    "ReloadFirst",     "SyncFirst",     "SwitchToNew",   "Soak",
    "IsolateSecond",   "ReloadSecond",  "SyncSecond",    "PostValidate",
    "PostHealthCheck", "AwaitFinalize", "Finalize",      "ReleaseLock",
    "Cleanup",         "RestoreActive", "RestoreStandby"};
const std::array<std::string, 3> kOutcomeNames = {"running", "ok", "nok"};
const std::array<std::string, 3> kWorkNames = {"verify", "backup", "digests"};

// One name per enumerator: a value added to an enum without its name fails to compile here.
template <class Array>
constexpr size_t kCount = std::tuple_size_v<Array>;
static_assert(kCount<decltype(kStateNames)> == static_cast<size_t>(CampaignState::kRolledBack) + 1);
static_assert(kCount<decltype(kPhaseNames)> == static_cast<size_t>(CampaignPhase::kRolledBack) + 1);
static_assert(kCount<decltype(kStepNames)> ==
              static_cast<size_t>(CampaignStep::kRestoreStandby) + 1);
static_assert(kCount<decltype(kOutcomeNames)> == static_cast<size_t>(StepOutcome::kNok) + 1);
static_assert(kCount<decltype(kWorkNames)> == static_cast<size_t>(WorkKind::kDigests) + 1);

template <class Enum, size_t N>
std::optional<Enum> Find(const std::array<std::string, N>& names, std::string_view name) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] != name) continue;
    // A name written twice would read a persisted record back as the wrong value.
    DUPLEX_ASSERT(std::count(names.begin(), names.end(), names[i]) == 1,
                  "a persisted name stands for one value", names[i]);
    return static_cast<Enum>(i);
  }
  return std::nullopt;
}

}  // namespace

const std::string& Name(CampaignState state) { return kStateNames.at(static_cast<size_t>(state)); }
const std::string& Name(CampaignPhase phase) { return kPhaseNames.at(static_cast<size_t>(phase)); }
const std::string& Name(CampaignStep step) { return kStepNames.at(static_cast<size_t>(step)); }
const std::string& Name(StepOutcome outcome) {
  return kOutcomeNames.at(static_cast<size_t>(outcome));
}
const std::string& Name(WorkKind kind) { return kWorkNames.at(static_cast<size_t>(kind)); }

std::ostream& operator<<(std::ostream& out, CampaignState state) { return out << Name(state); }
std::ostream& operator<<(std::ostream& out, CampaignPhase phase) { return out << Name(phase); }
std::ostream& operator<<(std::ostream& out, CampaignStep step) { return out << Name(step); }
std::ostream& operator<<(std::ostream& out, StepOutcome outcome) { return out << Name(outcome); }
std::ostream& operator<<(std::ostream& out, WorkKind kind) { return out << Name(kind); }

template <>
std::optional<CampaignState> FromName(std::string_view name) {
  return Find<CampaignState>(kStateNames, name);
}
template <>
std::optional<CampaignPhase> FromName(std::string_view name) {
  return Find<CampaignPhase>(kPhaseNames, name);
}
template <>
std::optional<CampaignStep> FromName(std::string_view name) {
  return Find<CampaignStep>(kStepNames, name);
}
template <>
std::optional<StepOutcome> FromName(std::string_view name) {
  return Find<StepOutcome>(kOutcomeNames, name);
}
template <>
std::optional<WorkKind> FromName(std::string_view name) {
  return Find<WorkKind>(kWorkNames, name);
}

bool StateMayFollow(CampaignState from, CampaignState to) {
  using S = CampaignState;
  if (from == to) return true;
  switch (from) {
    case S::kRunning:
      return to == S::kRollingBack || to == S::kAwaitingFinalize || to == S::kCompleted;
    case S::kAwaitingFinalize:
      return to == S::kRunning || to == S::kRollingBack;
    case S::kRollingBack:
      return to == S::kRolledBack;
    case S::kCompleted:
    case S::kRolledBack:
      return false;
  }
  DUPLEX_ASSERT(false, "a campaign state is one of the five", static_cast<int>(from));
  return false;
}

bool PhaseMayFollow(CampaignPhase from, CampaignPhase to) {
  using P = CampaignPhase;
  if (from == to) return true;
  switch (from) {
    case P::kNew:
      return to == P::kPrepare;
    case P::kPrepare:
      return to == P::kUpgradeFirst || to == P::kRollingBack;
    case P::kUpgradeFirst:
      return to == P::kEvaluate || to == P::kRollingBack;
    case P::kEvaluate:
      return to == P::kUpgradeSecond || to == P::kRollingBack;
    case P::kUpgradeSecond:
      return to == P::kConclude || to == P::kRollingBack;
    case P::kConclude:
      return to == P::kCompleted || to == P::kRollingBack;
    case P::kRollingBack:
      return to == P::kRolledBack;
    case P::kCompleted:
    case P::kRolledBack:
      return false;
  }
  DUPLEX_ASSERT(false, "a campaign phase is one of the nine", static_cast<int>(from));
  return false;
}

}  // namespace duplex
