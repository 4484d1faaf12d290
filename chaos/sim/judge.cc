#include "chaos/sim/judge.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <vector>

#include "examples/kv/kv_record.h"

namespace duplex::sim {
namespace {

// A stored value as the client wrote it: schema 2 records carry an expiry first.
std::string Decode(const std::string& key, const std::string& raw, uint32_t schema) {
  if (schema < 2) return raw;
  auto record = kv::DecodeRecord(key, raw);
  return record.ok() ? record->value : "<undecodable: " + record.status().message() + ">";
}

// The stored value of each of `keys` that the store holds: one scan of its state, as a
// read per key (a run's history touches hundreds of keys) took 2% of a run; a read per key
// only if the scan fails.
std::map<std::string, std::string> StoredValues(const Store& store,
                                                const std::set<std::string>& keys) {
  std::map<std::string, std::string> out;
  const std::string app_prefix = AppKey("");
  auto cursor = store.OpenSnapshot();
  while (!cursor->done()) {
    auto chunk = cursor->Next(size_t{1} << 20);
    if (!chunk.ok()) break;
    for (Mutation& m : *chunk) {
      if (!m.key.starts_with(app_prefix)) continue;
      std::string key = m.key.substr(app_prefix.size());
      if (keys.count(key)) out[std::move(key)] = std::move(m.value);
    }
  }
  if (cursor->done()) return out;
  out.clear();
  for (const std::string& key : keys) {
    auto v = store.Get(key);
    if (v.ok() && v->has_value()) out[key] = **v;
  }
  return out;
}

std::string Other(const std::string& replica) { return replica == "a" ? "b" : "a"; }

// A seed's history (a few hundred operations on each hot key) is decided in milliseconds;
// the bound only keeps a pathological one from stalling a run of thousands of seeds.
constexpr int64_t kLinearizabilityTimeLimitMs = 5000;

}  // namespace

void Judge::Violation(SimResult& out, Invariant invariant, const std::string& detail) {
  if (out.violations.size() < 20) {
    out.violations.push_back(std::string(InvariantName(invariant)) + ": " + detail);
  }
}

bool Judge::Settled() const {
  const Arbiter* arbiter = coordinators_.arbiter();
  if (clients_.Busy() || !arbiter) return false;
  const Campaign* campaign = coordinators_.campaign();
  if (campaign && !campaign->record().Done()) return false;
  const ClusterRecord& rec = arbiter->record();
  if (rec.active.empty()) return false;
  const Replica& a = processes_.at(rec.active);
  const Replica& b = processes_.at(Other(rec.active));
  if (!a.up || !b.up || !a.core->Serving(sim_.now())) return false;
  return b.core->role() == RoleState::kInSync &&
         a.store->meta().applied_seq == b.store->meta().applied_seq;
}

std::string Judge::WhyNotSettled() const {
  const Arbiter* arbiter = coordinators_.arbiter();
  if (!arbiter) return "no coordinator leads";
  std::string why = "active '" + arbiter->record().active + "'";
  for (const auto& [name, r] : processes_.all()) {
    why += ", " + name +
           (r.up ? " " + std::string(RoleStatePath(r.core->role())) + " seq " +
                       std::to_string(r.store->meta().applied_seq)
                 : " down" + (r.open_error.empty() ? "" : " (" + r.open_error + ")"));
  }
  if (const Campaign* campaign = coordinators_.campaign()) {
    const CampaignRecord& r = campaign->record();
    why += ", campaign " + Name(r.state);
    if (!r.steps.empty() && !r.steps.back().reason.empty()) {
      why += " (" + r.steps.back().reason + ")";
    }
  }
  if (clients_.Busy()) why += ", clients still waiting";
  return why;
}

SimResult Judge::Verdict() {
  SimResult out;
  out.seed = sim_.options.seed;
  out.profile = sim_.profile.Describe();
  out.simulated_us = sim_.now();
  out.events = sim_.queue.processed();
  out.sessions_expired = processes_.SessionsExpired();
  out.violations = coordinators_.violations();
  if (!Settled()) {
    Violation(out, Invariant::kReplicasConverge,
              "did not settle within " + std::to_string(sim_.options.settle_ms) +
                  " ms after the faults: " + WhyNotSettled());
  }
  // Final state, straight from the active's store through its processor's schema. With
  // no serving active the data cannot be judged: the settle violation says why.
  std::map<std::string, std::string> state;
  bool judged = FinalState(out, &state);
  CheckData(out, state, judged);
  CheckLinearizability(out);
  CheckEvents(out);
  out.campaign = "none";
  if (const Campaign* campaign = coordinators_.campaign()) {
    out.campaign = Name(campaign->record().state);
    if (!campaign->record().Done()) Violation(out, Invariant::kCampaignOutcome, "never ended");
  }
  sim_.trace.Line("end: " + std::to_string(out.violations.size()) + " violation(s)");
  out.trace_hash = sim_.trace.hash();
  out.trace = sim_.trace.TakeText();
  return out;
}

bool Judge::FinalState(SimResult& out, std::map<std::string, std::string>* state) {
  const Arbiter* arbiter = coordinators_.arbiter();
  if (!arbiter || arbiter->record().active.empty()) return false;
  bool judged = false;
  const Replica& active = processes_.at(arbiter->record().active);
  if (active.up) {
    judged = true;
    std::set<std::string> keys;
    for (const auto& op : clients_.history()) keys.insert(op.key);
    for (auto& [key, raw] : StoredValues(*active.store, keys)) {
      (*state)[key] = Decode(key, raw, active.store->meta().schema);
    }
  }
  const Replica& other = processes_.at(Other(arbiter->record().active));
  if (Settled()) {
    auto da = active.store->Digest();
    auto db = other.store->Digest();
    if (da.ok() && db.ok() && (da->digest != db->digest || da->keys != db->keys)) {
      Violation(out, Invariant::kReplicasConverge,
                "digests differ at seq " + std::to_string(da->applied_seq));
    }
  }
  return judged;
}

void Judge::CheckData(SimResult& out, const std::map<std::string, std::string>& state,
                      bool judged) {
  ReadValue read;
  if (judged) {
    read = [&state](const std::string& key) -> std::optional<std::string> {
      auto it = state.find(key);
      if (it == state.end()) return std::nullopt;
      return it->second;
    };
  }
  // Only the first 20 violations are kept (Violation), so no more are spelled out.
  CheckResult check = CheckHistory(clients_.history(), read, 20);
  out.ops_ok = check.ok;
  out.ops_fail = check.fail;
  out.ops_info = check.info;
  for (const auto& p : check.problems) Violation(out, p.invariant, p.detail);
}

// Every seed runs in sync mode (the simulator runs async only as the ack-before-replication
// mutant), where every acknowledged write and every read must be linearizable: no loss bound
// to allow for.
void Judge::CheckLinearizability(SimResult& out) {
  lin::CheckOptions options;
  options.time_limit_ms = kLinearizabilityTimeLimitMs;
  lin::CheckResult check = CheckLinearizable(clients_.history(), options);
  if (check.verdict == lin::Verdict::kNotLinearizable) {
    Violation(out, Invariant::kLinearizable, check.Explain());
  }
  for (const auto& key : check.unknown) {
    Violation(out, Invariant::kLinearizable,
              "undecided within " + std::to_string(options.time_limit_ms) + " ms: key " + key.key +
                  ", " + std::to_string(key.operations) + " operations");
  }
}

// Replica events from the replicas, cluster, campaign and leadership events from the
// coordinators (one coordinator per term is checked as they act: Coordinators),
// in time order, through the chaos checker's invariants.
void Judge::CheckEvents(SimResult& out) {
  std::vector<nlohmann::json> history = processes_.replica_events();
  for (const auto& e : coordinators_.events().kept()) {
    if (e.value("kind", "") != "replica") history.push_back(e);
  }
  for (const auto& e : coordinators_.leadership()) history.push_back(e);
  std::stable_sort(history.begin(), history.end(),
                   [](const nlohmann::json& a, const nlohmann::json& b) {
                     return a.value("t_us", int64_t{0}) < b.value("t_us", int64_t{0});
                   });
  for (const auto& v : CheckEpochs(history)) Violation(out, Invariant::kOneActivePerEpoch, v);
  for (const auto& v : CheckFeatureGate(history)) Violation(out, Invariant::kFeatureGate, v);
}

}  // namespace duplex::sim
