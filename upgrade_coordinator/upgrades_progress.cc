#include "upgrade_coordinator/upgrades_progress.h"

#include <algorithm>
#include <cstdio>

namespace duplex {
namespace {

constexpr int64_t kRateSampleUs = 500000;

std::string Fixed(double value, int decimals) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.*f", decimals, value);
  return text;
}

// Serving clients: active, past its lease wait, not drained for a switchover.
bool Serving(const StatusReport& r) {
  return r.role == WireRole::kActive && r.promoted_ready && !r.demoted;
}

// The highest seq the active may have acknowledged: with a standby session, what the
// standby holds durably; alone (solo), its own log.
uint64_t Committed(const StatusReport& r) {
  return r.want_solo || r.peer_acked_seq == 0 ? r.applied_seq : r.peer_acked_seq;
}

}  // namespace

void CampaignProgress::Observe(const CampaignRecord& record, int64_t now_us) {
  Observation& o = observed_;
  if (o.campaign_id != record.id) {
    o = Observation();
    o.campaign_id = record.id;
    o.since_us = now_us;
  }
  if (o.last_serving_us == 0) o.last_serving_us = now_us;
  for (const auto& r : config_.replicas) {
    std::optional<StatusReport> rep = host_->Report(r.name);
    if (!rep) continue;
    // Counters restart with the process: a drop means a new process counting from zero.
    auto [it, fresh] =
        o.counters.try_emplace(r.name, rep->requests_total, rep->server_errors_total);
    auto& [requests, errors] = it->second;
    if (!fresh) {
      o.requests +=
          rep->requests_total >= requests ? rep->requests_total - requests : rep->requests_total;
      o.server_errors += rep->server_errors_total >= errors ? rep->server_errors_total - errors
                                                            : rep->server_errors_total;
    }
    requests = rep->requests_total;
    errors = rep->server_errors_total;
    if (!Serving(*rep)) continue;
    o.longest_gap_us = std::max(o.longest_gap_us, now_us - o.last_serving_us);
    o.last_serving_us = now_us;
    if (!o.serving.empty() && o.serving != r.name && rep->applied_seq < o.serving_committed) {
      o.missing_acked += o.serving_committed - rep->applied_seq;
    }
    o.serving = r.name;
    o.serving_committed = Committed(*rep);
  }
  // Catch-up rates: the active's snapshot bytes and the standby's applied seq.
  std::optional<StatusReport> active = host_->Report(host_->ActiveName());
  std::optional<StatusReport> standby = host_->Report(host_->OtherName(host_->ActiveName()));
  if (now_us - o.sample_us >= kRateSampleUs) {
    double seconds = static_cast<double>(now_us - o.sample_us) / 1e6;
    uint64_t bytes = active ? active->catchup_bytes : 0;
    uint64_t seq = standby ? standby->applied_seq : 0;
    if (o.sample_us != 0) {
      o.mb_per_s = bytes >= o.sample_bytes ? (bytes - o.sample_bytes) / 1e6 / seconds : 0;
      o.ops_per_s = seq >= o.sample_seq ? (seq - o.sample_seq) / seconds : 0;
    }
    o.sample_us = now_us;
    o.sample_bytes = bytes;
    o.sample_seq = seq;
  }
}

std::string CampaignProgress::StepDetail(const CampaignRecord& record, int64_t now_us) const {
  if (record.steps.empty() || record.steps.back().result != StepOutcome::kRunning) return "";
  const CampaignStep step = record.steps.back().step;
  const Observation& o = observed_;
  std::optional<StatusReport> active = host_->Report(host_->ActiveName());
  if (step == CampaignStep::kSyncFirst || step == CampaignStep::kSyncSecond) {
    std::string name = step == CampaignStep::kSyncFirst ? record.first : record.second;
    std::optional<StatusReport> standby = host_->Report(name);
    if (!standby) return name + " is not reporting yet";
    std::string out =
        name + " " + standby->role_path + " at seq " + std::to_string(standby->applied_seq);
    if (active) {
      uint64_t behind = active->applied_seq > standby->applied_seq
                            ? active->applied_seq - standby->applied_seq
                            : 0;
      out += ", " + std::to_string(behind) + " behind the active";
      if (active->catchup_keys > 0) {
        out += "; snapshot " + std::to_string(active->catchup_keys) + " keys, " +
               Fixed(active->catchup_bytes / 1e6, 1) + " MB at " + Fixed(o.mb_per_s, 1) + " MB/s";
      }
    }
    return out + "; applying " + Fixed(o.ops_per_s, 0) + " ops/s";
  }
  if (step == CampaignStep::kSoak && active) {
    const StepRecord& running = record.steps.back();
    int64_t elapsed_ms = std::max<int64_t>(0, now_us / 1000 - running.started_ms);
    uint64_t requests =
        active->requests_total - std::min(active->requests_total, record.soak_requests);
    uint64_t errors =
        active->server_errors_total - std::min(active->server_errors_total, record.soak_errors);
    return "soak " + Fixed(std::min(elapsed_ms, record.soak_ms) / 1000.0, 1) + " s of " +
           Fixed(record.soak_ms / 1000.0, 1) + " s; " + host_->ActiveName() + " (" +
           active->version + ") answered " + std::to_string(requests) + " requests, " +
           std::to_string(errors) + " server errors, p99 " +
           Fixed(active->latency_p99_us / 1000.0, 2) + " ms (baseline " +
           Fixed(record.baseline_latency_p99_us / 1000.0, 2) + " ms)";
  }
  if (step == CampaignStep::kReloadFirst || step == CampaignStep::kReloadSecond) {
    std::string name = step == CampaignStep::kReloadFirst ? record.first : record.second;
    std::optional<StatusReport> rep = host_->Report(name);
    return rep ? name + " runs " + rep->version + " (" + rep->role_path + ")"
               : name + " restarting";
  }
  return "";
}

nlohmann::json CampaignProgress::ObservedJson(uint64_t campaign_id) const {
  const Observation& o = observed_;
  if (o.campaign_id != campaign_id) return nullptr;
  return {{"since_ms", o.since_us / 1000},
          {"requests", o.requests},
          {"server_errors", o.server_errors},
          {"longest_without_active_ms", o.longest_gap_us / 1000},
          {"acknowledged_seqs_missing", o.missing_acked}};
}

}  // namespace duplex
