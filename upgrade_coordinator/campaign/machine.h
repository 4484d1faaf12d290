// The campaign's Boost.Statechart machine (private to campaign/). The state tree:
//
//   Machine
//   ├── Resuming                 (initial: enters the persisted phase on the first tick)
//   ├── Running                  (EvAbort here rolls back)
//   │   ├── Prepare              Verify → PreValidate → PreHealthCheck → VetoRound → TakeLock →
//   Backup │   ├── UpgradeFirst         IsolateFirst → ReloadFirst → SyncFirst   (the standby at
//   start) │   ├── Evaluate             SwitchToNew → Soak                       (new version
//   active) │   ├── UpgradeSecond        IsolateSecond → ReloadSecond → SyncSecond │   └── Conclude
//   PostValidate → PostHealthCheck → AwaitFinalize → Finalize │                            →
//   ReleaseLock → Cleanup ├── RollingBack              RestoreActive → RestoreStandby →
//   ReleaseLockBack ├── Completed └── RolledBack
//
// Each composite persists its name as the campaign's phase when entered, before any
// of its steps acts; steps are idempotent, so resuming re-runs the phase safely.
#pragma once

#include <boost/mpl/list.hpp>
#include <boost/statechart/custom_reaction.hpp>
#include <boost/statechart/event.hpp>
#include <boost/statechart/simple_state.hpp>
#include <boost/statechart/state.hpp>
#include <boost/statechart/state_machine.hpp>
#include <boost/statechart/transition.hpp>
#include <map>

#include "upgrade_coordinator/campaign/campaign.h"

namespace duplex::campaign {

namespace sc = boost::statechart;
namespace mpl = boost::mpl;

struct EvTick : sc::event<EvTick> {};
struct EvAbort : sc::event<EvAbort> {};

// What one tick of a step decided.
struct StepResult {
  enum Kind { kWait, kOk, kNok } kind = kWait;
  std::string reason;
  static StepResult Wait() { return {}; }
  static StepResult Ok(std::string why = "") { return {kOk, std::move(why)}; }
  static StepResult Nok(std::string why) { return {kNok, std::move(why)}; }
};

struct Resuming;

struct Machine : sc::state_machine<Machine, Resuming> {
  Machine(CampaignRecord r, CampaignHost* h, CampaignOptions o)
      : record(std::move(r)), host(h), options(o) {}

  void EnterPhase(const char* phase, const char* state = "running");
  // Called by a step on each tick: opens its StepRecord on the first.
  void BeginStep(const char* step);
  void EndStep(const StepResult& result);
  int64_t StepElapsedMs() const { return now_ms - step_started_ms; }
  bool TimedOut() const { return StepElapsedMs() > options.step_timeout_ms; }
  // A command issued once per step (survives ticks, not restarts: commands are idempotent).
  bool Once(const std::string& what);
  // Time since `what` was first marked in this step (marked now on the first call): waits
  // are measured from when their cause began, not from the start of the step.
  int64_t SinceFirst(const std::string& what);
  bool Touched() const;  // did this campaign reload any replica?
  // The result of blocking work, if it came back for the current step.
  std::optional<Status> TakeWork(const std::string& kind);

  CampaignRecord record;
  CampaignHost* host;
  CampaignOptions options;
  int64_t now_ms = 0;
  int64_t step_started_ms = 0;
  std::string current_step;
  std::map<std::string, bool> issued;
  std::map<std::string, uint64_t> marks;  // values a step remembers from its first tick
  std::map<std::string, Status> work;
  std::string abort_reason;
};

// A leaf step: on each tick runs Self::Run(machine); Ok goes to Next, Nok rolls back.
// Defined where Next and RollingBack are complete (in the composite's .cc).
template <class Self, class Outer, class Next, class OnNok>
struct Step : sc::simple_state<Self, Outer> {
  using reactions = sc::custom_reaction<EvTick>;
  sc::result react(const EvTick&) {
    Machine& m = this->outermost_context();
    if (m.current_step != Self::kName) m.BeginStep(Self::kName);
    StepResult r = Self::Run(m);
    if (r.kind == StepResult::kWait) return this->discard_event();
    m.EndStep(r);
    if (r.kind == StepResult::kNok) {
      if (m.record.reason.empty()) m.record.reason = std::string(Self::kName) + ": " + r.reason;
      return this->template transit<OnNok>();
    }
    return this->template transit<Next>();
  }
};

// Shared observations.
std::string HealthProblem(const Machine& m, const std::string& replica);
// Starts the digest comparison once and waits for it (bounded from when it started).
StepResult AwaitDigests(Machine& m, const std::string& ok_reason);

}  // namespace duplex::campaign
