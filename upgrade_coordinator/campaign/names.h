// The campaign's vocabulary as enums: its states, phases, steps, step results and the
// kinds of blocking work. The names below are the ones persisted in the campaign record,
// served by the admin API and written to events.jsonl; they are converted here and only
// here, at those edges. Plain values; any thread.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

namespace duplex {

// What the operator sees (the record's "state").
enum class CampaignState { kRunning, kRollingBack, kAwaitingFinalize, kCompleted, kRolledBack };

// The composite state a campaign resumes in (the record's "phase"); kNew before Prepare.
enum class CampaignPhase {
  kNew,
  kPrepare,
  kUpgradeFirst,
  kEvaluate,
  kUpgradeSecond,
  kConclude,
  kRollingBack,
  kCompleted,
  kRolledBack
};

// The leaf steps, in the order of a campaign that completes, then the rollback's own.
// Conclude and RollingBack both release the lock: one step, kReleaseLock.
enum class CampaignStep {
  kVerify,
  kDistribute,
  kPreValidate,
  kPreHealthCheck,
  kVetoRound,
  kTakeLock,
  kBackup,
  kIsolateFirst,
  kReloadFirst,
  kSyncFirst,
  kSwitchToNew,
  kSoak,
  kIsolateSecond,
  kReloadSecond,
  kSyncSecond,
  kPostValidate,
  kPostHealthCheck,
  kAwaitFinalize,
  kFinalize,
  kReleaseLock,
  kCleanup,
  kRestoreActive,
  kRestoreStandby
};

enum class StepOutcome { kRunning, kOk, kNok };

// Work that blocks, run beside the coordinator's loop (CampaignHost::StartWork).
enum class WorkKind { kVerify, kBackup, kDigests };

const std::string& Name(CampaignState state);
const std::string& Name(CampaignPhase phase);  // "" for kNew
const std::string& Name(CampaignStep step);
const std::string& Name(StepOutcome outcome);
const std::string& Name(WorkKind kind);

// Logs and test failures print the name.
std::ostream& operator<<(std::ostream& out, CampaignState state);
std::ostream& operator<<(std::ostream& out, CampaignPhase phase);
std::ostream& operator<<(std::ostream& out, CampaignStep step);
std::ostream& operator<<(std::ostream& out, StepOutcome outcome);
std::ostream& operator<<(std::ostream& out, WorkKind kind);

// The value a name stands for; nullopt for a name that is none of them.
template <class Enum>
std::optional<Enum> FromName(std::string_view name);

// Done: the campaign ended and acts no more.
inline bool Ended(CampaignState state) {
  return state == CampaignState::kCompleted || state == CampaignState::kRolledBack;
}

// The state changes a campaign makes (a state may always follow itself): forward while it
// runs, back to running when finalize begins or a coordinator resumes one awaiting it, and
// to rolling back from anything but an end.
bool StateMayFollow(CampaignState from, CampaignState to);
// Each phase follows the one before it on the happy path, any running phase may roll back,
// and a resumed campaign re-enters its own phase.
bool PhaseMayFollow(CampaignPhase from, CampaignPhase to);

}  // namespace duplex
