#include "upgrade_coordinator/campaign/machine.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "upgrade_coordinator/campaign/states.h"

namespace duplex {
namespace campaign {

void Machine::EnterPhase(const char* phase, const char* state) {
  record.phase = phase;
  record.state = state;
  host->Persist(record);  // before the phase acts: a restart resumes here
  spdlog::info("campaign {}: phase {}", record.id, phase);
}

void Machine::BeginStep(const char* step) {
  current_step = step;
  step_started_ms = now_ms;
  issued.clear();
  marks.clear();
  record.steps.push_back({step, "running", "", now_ms, 0});
  host->Persist(record);
  spdlog::info("campaign {}: {}", record.id, step);
}

void Machine::EndStep(const StepResult& result) {
  StepRecord& s = record.steps.back();
  s.result = result.kind == StepResult::kOk ? "ok" : "nok";
  s.reason = result.reason;
  s.ended_ms = now_ms;
  current_step.clear();
  host->Persist(record);
  spdlog::info("campaign {}: {} {}{}", record.id, s.step, s.result,
               s.reason.empty() ? "" : ": " + s.reason);
}

bool Machine::Once(const std::string& what) {
  if (issued[what]) return false;
  issued[what] = true;
  return true;
}

int64_t Machine::SinceFirst(const std::string& what) {
  auto [it, fresh] = marks.emplace("t:" + what, static_cast<uint64_t>(now_ms));
  (void)fresh;
  return now_ms - static_cast<int64_t>(it->second);
}

bool Machine::Touched() const {
  for (const auto& s : record.steps) {
    if (s.step == "ReloadFirst" || s.step == "ReloadSecond") return true;
  }
  return false;
}

std::optional<Status> Machine::TakeWork(const std::string& kind) {
  auto it = work.find(kind);
  if (it == work.end()) return std::nullopt;
  Status s = it->second;
  work.erase(it);
  return s;
}

std::string HealthProblem(const Machine& m, const std::string& replica) {
  auto r = m.host->Report(replica);
  if (!r) return "replica " + replica + " is not reporting";
  if (!r->healthy) return "replica " + replica + " is unhealthy: " + r->health_detail;
  return "";
}

StepResult AwaitDigests(Machine& m, const std::string& ok_reason) {
  // Compare only once the standby has applied live deltas itself: a release that corrupts
  // what it applies shows nothing in the snapshot it was given (found by the simulator: a
  // corrupt release completed because both comparisons came right after a catch-up).
  // Without load there is nothing to apply: wait no longer than kLiveWaitMs.
  constexpr uint64_t kLiveDeltas = 20;
  constexpr int64_t kLiveWaitMs = 2000;
  if (!m.issued["digests"]) {
    std::string active = m.host->ActiveName();
    auto a = m.host->Report(active);
    auto standby = active.empty() ? std::nullopt : m.host->Report(m.host->OtherName(active));
    if (a && !m.marks.count("live-from")) m.marks["live-from"] = a->applied_seq;
    bool followed = standby && m.marks.count("live-from") &&
                    standby->applied_seq >= m.marks["live-from"] + kLiveDeltas;
    if (!followed && m.SinceFirst("live") < kLiveWaitMs) return StepResult::Wait();
  }
  if (m.Once("digests")) m.host->StartWork("digests");
  auto done = m.TakeWork("digests");
  if (!done) {
    return m.SinceFirst("digests") > m.options.step_timeout_ms
               ? StepResult::Nok("digest check timed out")
               : StepResult::Wait();
  }
  return done->ok() ? StepResult::Ok(ok_reason) : StepResult::Nok(done->message());
}

// A restarted coordinator re-enters the persisted phase on its first tick, and Conclude
// checks the digests and health again before it awaits finalize. Until then the campaign
// must not show "awaiting finalize" from the record: an operator shown it would have a
// finalize refused a moment later ("the soak and post-validation to finish").
Resuming::Resuming(my_context ctx) : my_base(ctx) {
  CampaignRecord& record = outermost_context().record;
  if (record.state == "awaiting finalize") record.state = "running";
}

sc::result Resuming::react(const EvTick&) {
  Machine& m = outermost_context();
  const std::string& p = m.record.phase;
  // A restarted coordinator has heard from nobody yet: judging a step now would read
  // "replica a is not reporting" from its own restart (found by CI: a Soak resumed 3 ms
  // after the restart failed on the standby's first heartbeat not having arrived). Wait
  // for both replicas, bounded: one that stays silent is judged by the step as before.
  bool mid_campaign = !p.empty() && !m.record.Done();
  if (mid_campaign && m.SinceFirst("resume") < m.options.resume_grace_ms) {
    for (const std::string& r : {m.record.first, m.record.second}) {
      if (!r.empty() && !m.host->Report(r)) return discard_event();
    }
  }
  if (p == "UpgradeFirst") return transit<UpgradeFirst>();
  if (p == "Evaluate") return transit<Evaluate>();
  if (p == "UpgradeSecond") return transit<UpgradeSecond>();
  if (p == "Conclude") return transit<Conclude>();
  if (p == "RollingBack") return transit<RollingBack>();
  if (p == "Completed") return transit<Completed>();
  if (p == "RolledBack") return transit<RolledBack>();
  return transit<Prepare>();  // new, or interrupted while preparing: nothing done yet
}

sc::result Running::react(const EvAbort&) {
  Machine& m = outermost_context();
  if (m.record.reason.empty()) m.record.reason = m.abort_reason;
  if (!m.current_step.empty()) m.EndStep(StepResult::Nok(m.abort_reason));
  return transit<RollingBack>();
}

Completed::Completed(my_context ctx) : my_base(ctx) {
  outermost_context().EnterPhase("Completed", "completed");
}

RolledBack::RolledBack(my_context ctx) : my_base(ctx) {
  outermost_context().EnterPhase("RolledBack", "rolled back");
}

}  // namespace campaign

struct Campaign::Impl {
  Impl(CampaignRecord record, CampaignHost* host, CampaignOptions options)
      : machine(std::move(record), host, options) {
    machine.initiate();
  }
  campaign::Machine machine;
};

Campaign::Campaign(CampaignRecord record, CampaignHost* host, CampaignOptions options)
    : impl_(std::make_unique<Impl>(std::move(record), host, options)) {}
Campaign::~Campaign() = default;

const CampaignRecord& Campaign::record() const { return impl_->machine.record; }

void Campaign::Tick(int64_t now_ms) {
  impl_->machine.now_ms = now_ms;
  impl_->machine.process_event(campaign::EvTick());
}

Status Campaign::Abort(const std::string& why) {
  auto& m = impl_->machine;
  if (m.record.finalized) {
    return FailedPrecondition("the campaign is finalized: the cluster runs " + m.record.to +
                              " features and cannot fall back to " + m.record.from);
  }
  if (m.record.Done()) return FailedPrecondition("the campaign is already " + m.record.state);
  if (m.record.state == "rolling back") return FailedPrecondition("already rolling back");
  m.abort_reason = why;
  // Not ticked yet: leave Resuming first, so that Running can take the abort.
  if (m.state_cast<const campaign::Resuming*>() != nullptr) m.process_event(campaign::EvTick());
  m.process_event(campaign::EvAbort());
  return Status::Ok();
}

Status Campaign::Finalize() {
  auto& m = impl_->machine;
  auto waits = FinalizeWaitsFor();
  if (!waits.empty()) {
    std::string all;
    for (const auto& w : waits) all += (all.empty() ? "" : "; ") + w;
    return FailedPrecondition("finalize waits for: " + all);
  }
  m.record.finalize_requested = true;
  m.host->Persist(m.record);
  return Status::Ok();
}

std::vector<std::string> Campaign::FinalizeWaitsFor() const {
  const auto& m = impl_->machine;
  std::vector<std::string> out;
  if (m.record.Done()) {
    out.push_back("nothing: the campaign is " + m.record.state);
    return out;
  }
  if (m.record.state == "rolling back") out.push_back("nothing: the campaign is rolling back");
  for (const std::string& r : {m.record.first, m.record.second}) {
    if (r.empty()) continue;
    auto rep = m.host->Report(r);
    if (!rep) {
      out.push_back("replica " + r + " to report");
    } else if (rep->version != m.record.to) {
      out.push_back("replica " + r + " runs " + rep->version + ", not " + m.record.to);
    } else if (r != m.host->ActiveName() && !m.host->InSync(r)) {
      out.push_back("replica " + r + " to be in sync");
    }
  }
  if (m.record.state != "awaiting finalize" && !m.record.finalized) {
    out.push_back("the soak and post-validation to finish");
  }
  return out;
}

void Campaign::OnWorkDone(const std::string& kind, const Status& result) {
  impl_->machine.work[kind] = result;
}

std::vector<std::pair<std::string, std::string>> CampaignSteps() {
  return {
      {"Verify", "the package is stored and its checksum verified"},
      {"PreValidate", "platform requirements, compatibility window, state converters"},
      {"PreHealthCheck", "both replicas healthy and in sync"},
      {"VetoRound", "every replica (and its application) may refuse; --force overrides"},
      {"TakeLock", "exclusive management lock: no switchover or second campaign"},
      {"Backup", "state checkpoint of the active + the running package, kept for diagnosis"},
      {"IsolateFirst", "take the standby out of service; the active goes solo"},
      {"ReloadFirst", "restart it with the new version, new features off"},
      {"SyncFirst", "make it standby again; catch-up converts state to its schema"},
      {"SwitchToNew", "switch over: the new version active, the old one its standby"},
      {"Soak", "evaluate: health and the application's checks for the soak time, digests equal"},
      {"IsolateSecond", "take the old-version replica out of service"},
      {"ReloadSecond", "restart it with the new version, new features off"},
      {"SyncSecond", "make it standby again and catch up"},
      {"PostValidate", "both replicas report the new version, digests equal"},
      {"PostHealthCheck", "both replicas healthy and in sync"},
      {"AwaitFinalize", "until `upgrade finalize` (or --auto-finalize)"},
      {"Finalize", "raise the cluster version: the new features are enabled"},
      {"ReleaseLock", "release the management lock"},
      {"Cleanup", "remove temporary files; the migration archive is kept"}};
}

std::string CampaignToJson(const CampaignRecord& r) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& s : r.steps) {
    steps.push_back({{"step", s.step},
                     {"result", s.result},
                     {"reason", s.reason},
                     {"started_ms", s.started_ms},
                     {"ended_ms", s.ended_ms}});
  }
  return nlohmann::json{{"id", r.id},
                        {"from", r.from},
                        {"to", r.to},
                        {"soak_ms", r.soak_ms},
                        {"auto_finalize", r.auto_finalize},
                        {"forced", r.force},
                        {"first", r.first},
                        {"second", r.second},
                        {"phase", r.phase},
                        {"state", r.state},
                        {"reason", r.reason},
                        {"finalize_requested", r.finalize_requested},
                        {"finalized", r.finalized},
                        {"baseline",
                         {r.baseline_requests, r.baseline_errors, r.baseline_latency_p99_us,
                          r.soak_requests, r.soak_errors}},
                        {"steps", steps}}
      .dump();
}

StatusOr<CampaignRecord> CampaignFromJson(const std::string& text) {
  try {
    auto j = nlohmann::json::parse(text);
    CampaignRecord r;
    r.id = j.at("id");
    r.from = j.at("from");
    r.to = j.at("to");
    r.soak_ms = j.at("soak_ms");
    r.auto_finalize = j.at("auto_finalize");
    r.force = j.at("forced");
    r.first = j.at("first");
    r.second = j.at("second");
    r.phase = j.at("phase");
    r.state = j.at("state");
    r.reason = j.at("reason");
    r.finalize_requested = j.at("finalize_requested");
    r.finalized = j.at("finalized");
    if (j.contains("baseline")) {
      const auto& b = j.at("baseline");
      r.baseline_requests = b.at(0);
      r.baseline_errors = b.at(1);
      r.baseline_latency_p99_us = b.at(2);
      r.soak_requests = b.at(3);
      r.soak_errors = b.at(4);
    }
    for (const auto& s : j.at("steps")) {
      r.steps.push_back(
          {s.at("step"), s.at("result"), s.at("reason"), s.at("started_ms"), s.at("ended_ms")});
    }
    return r;
  } catch (const std::exception& e) {
    return Corruption(std::string("campaign record: ") + e.what());
  }
}

}  // namespace duplex
