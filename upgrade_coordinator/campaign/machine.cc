#include "upgrade_coordinator/campaign/machine.h"

#include <spdlog/spdlog.h>

namespace duplex::campaign {

void Machine::EnterPhase(CampaignPhase phase, CampaignState state) {
  DUPLEX_ASSERT(PhaseMayFollow(record.phase, phase), "from", Name(record.phase), "to", Name(phase));
  // A campaign that enabled the new features has no way back to the old version.
  DUPLEX_ASSERT(!(record.finalized && phase == CampaignPhase::kRollingBack), "campaign", record.id);
  DUPLEX_ASSERT(!step_open, "phase", Name(phase), "entered with a step open");
  record.phase = phase;
  SetState(state);
  host->Persist(record);  // before the phase acts: a restart resumes here
  spdlog::info("campaign {}: phase {}", record.id, Name(phase));
}

void Machine::SetState(CampaignState state) {
  DUPLEX_ASSERT(StateMayFollow(record.state, state), "from", Name(record.state), "to", Name(state));
  record.state = state;
}

void Machine::BeginStep(CampaignStep step) {
  DUPLEX_ASSERT(!step_open, "step", Name(step), "begins while", Name(record.steps.back().step),
                "runs");
  step_open = true;
  step_started_ms = now_ms;
  record.steps.push_back({step, StepOutcome::kRunning, "", now_ms, 0});
  host->Persist(record);
  spdlog::info("campaign {}: {}", record.id, Name(step));
}

void Machine::EndStep(const StepResult& result) {
  DUPLEX_ASSERT(step_open && result.kind != StepResult::kWait, "open", step_open);
  StepRecord& s = record.steps.back();
  DUPLEX_ASSERT(s.result == StepOutcome::kRunning, "step", Name(s.step), "already", Name(s.result));
  s.result = result.kind == StepResult::kOk ? StepOutcome::kOk : StepOutcome::kNok;
  s.reason = result.reason;
  s.ended_ms = now_ms;
  step_open = false;
  host->Persist(record);
  spdlog::info("campaign {}: {} {}{}", record.id, Name(s.step), Name(s.result),
               s.reason.empty() ? "" : ": " + s.reason);
}

int64_t Machine::Since(std::optional<int64_t>* since_ms) const {
  if (!*since_ms) *since_ms = now_ms;
  return now_ms - **since_ms;
}

bool Machine::Touched() const {
  for (const auto& s : record.steps) {
    if (s.step == CampaignStep::kReloadFirst || s.step == CampaignStep::kReloadSecond) return true;
  }
  return false;
}

void WorkSlot::Start(Machine& m, WorkKind kind) {
  if (kind_) {
    DUPLEX_ASSERT(*kind_ == kind, "started", Name(*kind_), "then", Name(kind));
    return;
  }
  kind_ = kind;
  started_ms_ = m.now_ms;
  m.host->StartWork(kind);
}

bool WorkSlot::Deliver(const EvWorkDone& done) {
  if (!kind_ || *kind_ != done.kind || result_) {
    spdlog::info("campaign: ignoring a late {} result ({})", Name(done.kind),
                 done.status.ok() ? "ok" : done.status.message());
    return false;
  }
  result_ = done.status;
  return true;
}

std::string HealthProblem(const Machine& m, const std::string& replica) {
  auto r = m.host->Report(replica);
  if (!r) return "replica " + replica + " is not reporting";
  if (!r->healthy) return "replica " + replica + " is unhealthy: " + r->health_detail;
  return "";
}

StepResult AwaitDigests(Machine& m, DigestWait* wait, WorkSlot* work,
                        const std::string& ok_reason) {
  // Compare only once the standby has applied live deltas itself: a release that corrupts
  // what it applies shows nothing in the snapshot it was given, so a comparison right
  // after a catch-up proves nothing. Without load there is nothing to apply: wait no
  // longer than kLiveWaitMs.
  constexpr uint64_t kLiveDeltas = 20;
  constexpr int64_t kLiveWaitMs = 2000;
  if (!work->started_ms()->has_value()) {
    std::string active = m.host->ActiveName();
    auto a = m.host->Report(active);
    auto standby = active.empty() ? std::nullopt : m.host->Report(m.host->OtherName(active));
    if (a && !wait->live_from) wait->live_from = a->applied_seq;
    bool followed =
        standby && wait->live_from && standby->applied_seq >= *wait->live_from + kLiveDeltas;
    if (!followed && m.Since(&wait->live_since_ms) < kLiveWaitMs) return StepResult::Wait();
  }
  work->Start(m, WorkKind::kDigests);
  const std::optional<Status>& done = work->result();
  if (!done) {
    return m.Since(work->started_ms()) > m.options.step_timeout_ms
               ? StepResult::Nok("digest check timed out")
               : StepResult::Wait();
  }
  return done->ok() ? StepResult::Ok(ok_reason) : StepResult::Nok(done->message());
}

}  // namespace duplex::campaign
