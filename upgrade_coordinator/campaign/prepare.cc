// Prepare: every check that must pass before anything changes, then the lock and the
// backup. A NOK here rolls back nothing but the lock.
#include "upgrade_coordinator/campaign/states.h"

namespace duplex::campaign {
namespace {

constexpr int64_t kHealthWaitMs = 5000;  // a pre-check tolerates this much transient state
// The pre-check gives up on transient trouble before the step would time out, and one full
// load window fits inside that wait.
static_assert(kHealthWaitMs < CampaignOptions{}.step_timeout_ms);
static_assert(CampaignOptions{}.load_sample_ms < kHealthWaitMs);

struct Verify;
struct Distribute;
struct PreValidate;
struct PreHealthCheck;
struct VetoRound;
struct TakeLock;
struct Backup;

// The active's answered requests per second, sampled over windows of load_sample_ms: an
// upgrade is not started under a load above the threshold.
struct LoadSample {
  std::optional<int64_t> window_ms;  // when the window began
  uint64_t requests = 0;             // the active's count then
  bool ok = false;                   // the last full window was under the threshold
};

std::string LoadProblem(Machine& m, const std::string& active, LoadSample* load) {
  auto rep = m.host->Report(active);
  if (!rep) return "replica " + active + " is not reporting";
  if (!load->window_ms) {
    load->window_ms = m.now_ms;
    load->requests = rep->requests_total;
    return "";
  }
  int64_t elapsed = m.now_ms - *load->window_ms;
  DUPLEX_ASSERT(elapsed >= 0, "a load window began in the past", elapsed);
  if (elapsed < m.options.load_sample_ms) return "";
  double rate = (rep->requests_total - std::min(rep->requests_total, load->requests)) * 1000.0 /
                static_cast<double>(elapsed);
  load->window_ms = m.now_ms;  // next window
  load->requests = rep->requests_total;
  load->ok = rate <= m.options.load_ops_per_s_max;
  if (!load->ok) {
    return "load " + std::to_string(static_cast<int64_t>(rate)) + " ops/s is over the threshold " +
           std::to_string(static_cast<int64_t>(m.options.load_ops_per_s_max)) + " ops/s";
  }
  return "";
}

struct Verify : Step<Verify, Prepare, Distribute, RollingBack> {
  static constexpr CampaignStep kStep = CampaignStep::kVerify;
  StepResult Run(Machine& m) {
    std::string problem = m.host->CheckPackage(m.record.to);
    if (!problem.empty()) return StepResult::Nok(problem);
    // Hashing a large binary would stall the coordinator's loop: it runs beside it.
    work_.Start(m, WorkKind::kVerify);
    const std::optional<Status>& done = work_.result();
    if (!done) return m.TimedOut() ? StepResult::Nok("verify timed out") : StepResult::Wait();
    return done->ok() ? StepResult::Ok("checksum verified") : StepResult::Nok(done->message());
  }
};

// Before anything is isolated: a host that cannot get the package stops the campaign while
// the pair is still whole.
struct Distribute : Step<Distribute, Prepare, PreValidate, RollingBack> {
  static constexpr CampaignStep kStep = CampaignStep::kDistribute;
  StepResult Run(Machine& m) {
    Distribution d = m.host->DistributePackage(m.record.to);
    if (!d.problem.empty()) return StepResult::Nok(d.problem);
    if (d.done) return StepResult::Ok(d.progress.empty() ? "no host needs it" : d.progress);
    return m.TimedOut() ? StepResult::Nok("distribution timed out: " + d.progress)
                        : StepResult::Wait();
  }
};

struct PreValidate : Step<PreValidate, Prepare, PreHealthCheck, RollingBack> {
  static constexpr CampaignStep kStep = CampaignStep::kPreValidate;
  StepResult Run(Machine& m) {
    std::string problem = m.host->CheckCompatibility(m.record.from, m.record.to);
    return problem.empty() ? StepResult::Ok() : StepResult::Nok(problem);
  }
};

struct PreHealthCheck : Step<PreHealthCheck, Prepare, VetoRound, RollingBack> {
  static constexpr CampaignStep kStep = CampaignStep::kPreHealthCheck;
  StepResult Run(Machine& m) {
    std::string active = m.host->ActiveName();
    std::string problem = active.empty() ? "no active replica" : HealthProblem(m, active);
    std::string standby = active.empty() ? "" : m.host->OtherName(active);
    if (problem.empty()) problem = HealthProblem(m, standby);
    if (problem.empty() && !m.host->InSync(standby))
      problem = "standby " + standby + " is not in sync";
    for (const std::string& r : {active, standby}) {
      auto rep = m.host->Report(r);
      if (problem.empty() && rep && rep->version != m.record.from) {
        problem = "replica " + r + " runs " + rep->version + ", not " + m.record.from;
      }
    }
    if (problem.empty()) problem = LoadProblem(m, active, &load_);
    if (!problem.empty()) {
      return m.StepElapsedMs() < kHealthWaitMs ? StepResult::Wait() : StepResult::Nok(problem);
    }
    if (!load_.ok) return StepResult::Wait();  // still sampling
    DUPLEX_ASSERT(!standby.empty() && standby != active, "the upgrade order names both replicas",
                  active, standby);
    m.record.first = standby;  // the standby is upgraded first; the active keeps serving
    m.record.second = active;
    auto baseline = m.host->Report(active);
    DUPLEX_ASSERT(baseline.has_value(), "active", active, "passed the load check unreported");
    m.record.baseline_requests = baseline->requests_total;
    m.record.baseline_errors = baseline->server_errors_total;
    m.record.baseline_latency_p99_us = baseline->latency_p99_us;
    return StepResult::Ok(standby + " first, then " + active);
  }

 private:
  LoadSample load_;
};

struct VetoRound : Step<VetoRound, Prepare, TakeLock, RollingBack> {
  static constexpr CampaignStep kStep = CampaignStep::kVetoRound;
  StepResult Run(Machine& m) {
    std::string vetoes;
    for (const std::string& r : {m.record.first, m.record.second}) {
      auto rep = m.host->Report(r);
      if (!rep) return StepResult::Nok("replica " + r + " did not answer the veto round");
      if (!rep->veto_reason.empty()) {
        vetoes += (vetoes.empty() ? "" : "; ") + r + " vetoes: " + rep->veto_reason;
      }
    }
    if (vetoes.empty()) return StepResult::Ok();
    if (m.record.force) return StepResult::Ok("forced over: " + vetoes);
    return StepResult::Nok(vetoes + " (--force overrides)");
  }
};

struct TakeLock : Step<TakeLock, Prepare, Backup, RollingBack> {
  static constexpr CampaignStep kStep = CampaignStep::kTakeLock;
  StepResult Run(Machine& m) {
    m.host->SetLock(true);
    return StepResult::Ok();
  }
};

struct Backup : Step<Backup, Prepare, UpgradeFirst, RollingBack> {
  static constexpr CampaignStep kStep = CampaignStep::kBackup;
  StepResult Run(Machine& m) {
    work_.Start(m, WorkKind::kBackup);
    const std::optional<Status>& done = work_.result();
    if (!done) return m.TimedOut() ? StepResult::Nok("backup timed out") : StepResult::Wait();
    return done->ok() ? StepResult::Ok() : StepResult::Nok(done->message());
  }
};

}  // namespace

Prepare::Prepare(my_context ctx) : my_base(ctx) {
  outermost_context().EnterPhase(CampaignPhase::kPrepare);
}

sc::result PrepareEntry::react(const EvTick&) { return transit<Verify>(); }

}  // namespace duplex::campaign
