// Evaluate: the new version becomes active with the old one as its standby, and is
// watched for the soak time; its state must equal the old version's at the end.
#include "upgrade_coordinator/campaign/states.h"

namespace duplex::campaign {
namespace {

struct SwitchToNew;
struct Soak;

struct SwitchToNew : Step<SwitchToNew, Evaluate, Soak, RollingBack> {
  static constexpr CampaignStep kStep = CampaignStep::kSwitchToNew;
  StepResult Run(Machine& m) {
    const std::string& fresh = m.record.first;
    // Only a replica already on the new version and back in service is switched to.
    DUPLEX_ASSERT(m.record.phase == CampaignPhase::kEvaluate && !fresh.empty(),
                  "the new version takes over in Evaluate only", Name(m.record.phase), fresh);
    if (m.host->ActiveName() == fresh) return StepResult::Ok();
    if (!m.host->InSync(fresh)) {
      return m.TimedOut() ? StepResult::Nok(fresh + " is not in sync") : StepResult::Wait();
    }
    if (!switchover_ms_) {
      switchover_ms_ = m.now_ms;
      Status s = m.host->Switchover();
      if (!s.ok()) return StepResult::Nok("switchover: " + s.message());
    }
    return m.Since(&switchover_ms_) > m.options.switchover_wait_ms
               ? StepResult::Nok("switchover to " + fresh + " did not complete")
               : StepResult::Wait();
  }
  std::optional<int64_t> switchover_ms_;  // when it was requested
};

// Error rate and latency of the new active against the baseline of the old one.
std::string AgainstBaseline(const Machine& m, const StatusReport& now) {
  const CampaignRecord& r = m.record;
  uint64_t answered = now.requests_total - std::min(now.requests_total, r.soak_requests);
  if (answered < m.options.requests_to_judge_min) return "";
  uint64_t errors = now.server_errors_total - std::min(now.server_errors_total, r.soak_errors);
  double rate = static_cast<double>(errors) / static_cast<double>(answered);
  double base = r.baseline_requests == 0 ? 0.0
                                         : static_cast<double>(r.baseline_errors) /
                                               static_cast<double>(r.baseline_requests);
  if (rate > base + m.options.error_rate_increase_max) {
    return "error rate " + std::to_string(rate * 100) + "% against a baseline of " +
           std::to_string(base * 100) + "%";
  }
  double limit =
      std::max(m.options.latency_factor_max * r.baseline_latency_p99_us,
               static_cast<double>(r.baseline_latency_p99_us + m.options.latency_slack_us));
  if (now.latency_p99_us > limit) {
    return "latency p99 " + std::to_string(now.latency_p99_us) + " us against a baseline of " +
           std::to_string(r.baseline_latency_p99_us) + " us";
  }
  return "";
}

struct Soak : Step<Soak, Evaluate, UpgradeSecond, RollingBack> {
  static constexpr CampaignStep kStep = CampaignStep::kSoak;
  StepResult Run(Machine& m) {
    const std::string& fresh = m.record.first;
    if (m.host->ActiveName() != fresh) return StepResult::Nok(fresh + " lost the active role");
    auto active = m.host->Report(fresh);
    if (active && Once(&counted_)) {
      m.record.soak_requests = active->requests_total;
      m.record.soak_errors = active->server_errors_total;
    }

    // Health and the application's own checks (reported with each status) must hold
    // for the whole soak; the old version must keep following as the standby.
    for (const std::string& r : {m.record.first, m.record.second}) {
      std::string problem = HealthProblem(m, r);
      if (!problem.empty()) return StepResult::Nok(problem);
    }
    if (m.StepElapsedMs() < m.record.soak_ms) return StepResult::Wait();
    // Error rate and latency are judged at the end of the soak, on the replica's recent
    // window, so the switchover itself does not count against the new version.
    if (active && Once(&judged_)) {
      std::string worse = AgainstBaseline(m, *active);
      if (!worse.empty()) return StepResult::Nok(worse);
    }
    return AwaitDigests(m, &digests_, &work_,
                        "soaked " + std::to_string(m.record.soak_ms) + " ms, digests equal");
  }
  bool counted_ = false;  // the soak's starting counters are in the record
  bool judged_ = false;
  DigestWait digests_;
};

}  // namespace

Evaluate::Evaluate(my_context ctx) : my_base(ctx) {
  outermost_context().EnterPhase(CampaignPhase::kEvaluate);
}
sc::result EvaluateEntry::react(const EvTick&) { return transit<SwitchToNew>(); }

}  // namespace duplex::campaign
