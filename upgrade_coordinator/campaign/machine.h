// The campaign's Boost.Statechart machine (private to campaign/). The state tree:
//
// clang-format off
//   Machine
//   ├── Resuming          (initial: enters the persisted phase on the first tick)
//   ├── Running           (EvAbort here rolls back)
//   │   ├── Prepare       Verify → Distribute → PreValidate → PreHealthCheck → VetoRound → TakeLock → Backup
//   │   ├── UpgradeFirst  IsolateFirst → ReloadFirst → SyncFirst      (the standby at start)
//   │   ├── Evaluate      SwitchToNew → Soak                          (the new version active)
//   │   ├── UpgradeSecond IsolateSecond → ReloadSecond → SyncSecond
//   │   └── Conclude      PostValidate → PostHealthCheck → AwaitFinalize → Finalize
//   │                     → ReleaseLock → Cleanup
//   ├── RollingBack       RestoreActive → RestoreStandby → ReleaseLock
//   ├── Completed
//   └── RolledBack
// clang-format on
//
// Each composite persists its phase when entered, before any of its steps acts; steps are
// idempotent, so resuming re-runs the phase safely. A step's memory (commands issued, marks
// and the result of its blocking work) lives in the step's state object, so it begins empty
// on each entry and needs no clearing; what must survive a restart is in the record.
#pragma once

#include <boost/mpl/list.hpp>
#include <boost/statechart/custom_reaction.hpp>
#include <boost/statechart/event.hpp>
#include <boost/statechart/simple_state.hpp>
#include <boost/statechart/state.hpp>
#include <boost/statechart/state_machine.hpp>
#include <boost/statechart/transition.hpp>
#include <optional>
#include <string>

#include "common/assert.h"
#include "upgrade_coordinator/campaign/host.h"
#include "upgrade_coordinator/campaign/record.h"

namespace duplex::campaign {

namespace sc = boost::statechart;
namespace mpl = boost::mpl;

struct EvTick : sc::event<EvTick> {};
struct EvAbort : sc::event<EvAbort> {};
// Blocking work came back: its kind, and its status.
struct EvWorkDone : sc::event<EvWorkDone> {
  EvWorkDone(WorkKind k, Status s) : kind(k), status(std::move(s)) {}
  WorkKind kind;
  Status status;
};

// What one tick of a step decided.
struct StepResult {
  enum Kind { kWait, kOk, kNok } kind = kWait;
  std::string reason;
  static StepResult Wait() { return {}; }
  static StepResult Ok(std::string why = "") { return {kOk, std::move(why)}; }
  static StepResult Nok(std::string why) { return {kNok, std::move(why)}; }
};

// True the first time only: a command a step issues once per entry.
inline bool Once(bool* issued) {
  if (*issued) return false;
  *issued = true;
  return true;
}

struct Resuming;

struct Machine : sc::state_machine<Machine, Resuming> {
  Machine(CampaignRecord r, CampaignHost* h, CampaignOptions o)
      : record(std::move(r)), host(h), options(o) {}

  // Persists the phase (and state) before the phase acts: a restart resumes here.
  void EnterPhase(CampaignPhase phase, CampaignState state = CampaignState::kRunning);
  // A state change that is not a phase change (awaiting finalize, finalizing); not persisted.
  void SetState(CampaignState state);
  // Called by a step on its first tick: records (and persists) it before it acts.
  void BeginStep(CampaignStep step);
  void EndStep(const StepResult& result);
  int64_t StepElapsedMs() const { return now_ms - step_started_ms; }
  bool TimedOut() const { return StepElapsedMs() > options.step_timeout_ms; }
  // Time since *since_ms, which is set to now on the first call: waits are measured from
  // when their cause began, not from the start of the step.
  int64_t Since(std::optional<int64_t>* since_ms) const;
  bool Touched() const;  // did this campaign reload any replica?
  // Queues an event to be handled once the running reaction is done.
  void Post(const sc::event_base& event) { post_event(event); }

  CampaignRecord record;
  CampaignHost* host;
  CampaignOptions options;
  int64_t now_ms = 0;
  int64_t step_started_ms = 0;
  bool step_open = false;  // record.steps.back() is running
  bool reacting = false;   // inside process_event: an event from the host is posted instead
  std::string abort_reason;
};

// Blocking work a step started, and its result once it came back (EvWorkDone).
class WorkSlot {
 public:
  // Starts the work on the first call only, and notes when.
  void Start(Machine& m, WorkKind kind);
  // Keeps the result if it answers the work started here, and says whether it did: a
  // result for another kind, or a second one, is a late answer to a step since left.
  bool Deliver(const EvWorkDone& done);
  const std::optional<Status>& result() const { return result_; }
  // When it started (set by Start).
  std::optional<int64_t>* started_ms() { return &started_ms_; }

 private:
  std::optional<WorkKind> kind_;
  std::optional<int64_t> started_ms_;
  std::optional<Status> result_;
};

// A leaf step: on each tick runs Self::Run(machine); Ok goes to Next, Nok rolls back.
// Its blocking work, if any, goes through work_. Defined where Next and RollingBack are
// complete (in the composite's .cc).
template <class Self, class Outer, class Next, class OnNok>
struct Step : sc::simple_state<Self, Outer> {
  using reactions = mpl::list<sc::custom_reaction<EvTick>, sc::custom_reaction<EvWorkDone>>;
  sc::result react(const EvTick&) {
    Machine& m = this->outermost_context();
    if (!begun_) {
      m.BeginStep(Self::kStep);
      begun_ = true;
    }
    // The step is on record, running, before it acts: a restart sees it.
    DUPLEX_ASSERT(m.step_open && m.record.steps.back().step == Self::kStep, "step",
                  Name(Self::kStep), "open", m.step_open);
    StepResult r = static_cast<Self*>(this)->Run(m);
    if (r.kind == StepResult::kWait) return this->discard_event();
    m.EndStep(r);
    if (r.kind == StepResult::kNok) {
      if (m.record.reason.empty()) m.record.reason = Name(Self::kStep) + ": " + r.reason;
      return this->template transit<OnNok>();
    }
    return this->template transit<Next>();
  }
  sc::result react(const EvWorkDone& done) {
    (void)work_.Deliver(done);
    return this->discard_event();
  }

 protected:
  WorkSlot work_;

 private:
  bool begun_ = false;
};

// Shared observations.
std::string HealthProblem(const Machine& m, const std::string& replica);

// What AwaitDigests remembers between ticks.
struct DigestWait {
  std::optional<uint64_t> live_from;  // the active's applied seq when the wait began
  std::optional<int64_t> live_since_ms;
};
// Starts the digest comparison once and waits for it (bounded from when it started).
StepResult AwaitDigests(Machine& m, DigestWait* wait, WorkSlot* work, const std::string& ok_reason);

}  // namespace duplex::campaign
