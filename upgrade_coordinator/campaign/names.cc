#include "upgrade_coordinator/campaign/names.h"

#include <array>
#include <ostream>
#include <utility>

namespace duplex {
namespace {

// The persisted names, in enumerator order: a record written by any coordinator uses them.
const std::array<std::string, 5> kStateNames = {"running", "rolling back", "awaiting finalize",
                                                "completed", "rolled back"};
const std::array<std::string, 9> kPhaseNames = {
    "",         "Prepare",     "UpgradeFirst", "Evaluate",  "UpgradeSecond",
    "Conclude", "RollingBack", "Completed",    "RolledBack"};
const std::array<std::string, 22> kStepNames = {
    "Verify",        "PreValidate",   "PreHealthCheck", "VetoRound",
    "TakeLock",      "Backup",        "IsolateFirst",   "ReloadFirst",
    "SyncFirst",     "SwitchToNew",   "Soak",           "IsolateSecond",
    "ReloadSecond",  "SyncSecond",    "PostValidate",   "PostHealthCheck",
    "AwaitFinalize", "Finalize",      "ReleaseLock",    "Cleanup",
    "RestoreActive", "RestoreStandby"};
const std::array<std::string, 3> kOutcomeNames = {"running", "ok", "nok"};
const std::array<std::string, 3> kWorkNames = {"verify", "backup", "digests"};

template <class Enum, size_t N>
std::optional<Enum> Find(const std::array<std::string, N>& names, std::string_view name) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == name) return static_cast<Enum>(i);
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
  return false;
}

}  // namespace duplex
