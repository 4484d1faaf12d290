// Evaluate: the new version becomes active with the old one as its standby, and is
// watched for the soak time; its state must equal the old version's at the end.
#include "upgrade_coordinator/campaign/states.h"

namespace duplex::campaign {
namespace {

struct SwitchToNew;
struct Soak;

struct SwitchToNew : Step<SwitchToNew, Evaluate, Soak, RollingBack> {
  static constexpr const char* kName = "SwitchToNew";
  static StepResult Run(Machine& m) {
    const std::string& fresh = m.record.first;
    if (m.host->ActiveName() == fresh) return StepResult::Ok();
    if (!m.host->InSync(fresh)) {
      return m.TimedOut() ? StepResult::Nok(fresh + " is not in sync") : StepResult::Wait();
    }
    if (m.Once("switchover")) {
      Status s = m.host->Switchover();
      if (!s.ok()) return StepResult::Nok("switchover: " + s.message());
    }
    return m.StepElapsedMs() > m.options.switchover_wait_ms
               ? StepResult::Nok("switchover to " + fresh + " did not complete")
               : StepResult::Wait();
  }
};

struct Soak : Step<Soak, Evaluate, UpgradeSecond, RollingBack> {
  static constexpr const char* kName = "Soak";
  static StepResult Run(Machine& m) {
    const std::string& fresh = m.record.first;
    if (m.host->ActiveName() != fresh) return StepResult::Nok(fresh + " lost the active role");
    // Health and the application's own checks (reported with each status) must hold
    // for the whole soak; the old version must keep following as the standby.
    for (const std::string& r : {m.record.first, m.record.second}) {
      std::string problem = HealthProblem(m, r);
      if (!problem.empty()) return StepResult::Nok(problem);
    }
    if (m.StepElapsedMs() < m.record.soak_ms) return StepResult::Wait();
    if (m.Once("digests")) m.host->StartWork("digests");
    auto done = m.TakeWork("digests");
    if (!done) return m.TimedOut() ? StepResult::Nok("digest check timed out") : StepResult::Wait();
    return done->ok() ? StepResult::Ok("soaked " + std::to_string(m.record.soak_ms) + " ms, " +
                                       "digests equal")
                      : StepResult::Nok(done->message());
  }
};

}  // namespace

Evaluate::Evaluate(my_context ctx) : my_base(ctx) { outermost_context().EnterPhase("Evaluate"); }
sc::result EvaluateEntry::react(const EvTick&) { return transit<SwitchToNew>(); }

}  // namespace duplex::campaign
