#include "chaos/history_judgement.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <map>
#include <optional>

namespace duplex {
namespace {

using nlohmann::json;

constexpr size_t kExamplesMax = 5;  // lost writes spelled out per failover

const char* OutcomeName(lin::Outcome outcome) {
  switch (outcome) {
    case lin::Outcome::kOk:
      return "ok";
    case lin::Outcome::kFail:
      return "fail";
    case lin::Outcome::kUnknown:
      return "unknown";
  }
  return "?";
}

json OperationJson(const lin::Operation& op, int64_t t0_us) {
  json out = {{"client", op.client},
              {"f", op.f},
              {"input", op.input},
              {"output", op.output},
              {"absent", op.absent},
              {"outcome", OutcomeName(op.outcome)},
              {"invoke_ms", (op.invoke_us - t0_us) / 1000.0}};
  if (op.outcome != lin::Outcome::kUnknown) {
    out["complete_ms"] = (op.complete_us - t0_us) / 1000.0;
  }
  return out;
}

json OperationsJson(const std::vector<lin::Operation>& ops, int64_t t0_us) {
  json out = json::array();
  for (const lin::Operation& op : ops) out.push_back(OperationJson(op, t0_us));
  return out;
}

// A lost write, as the loss accounting found it.
struct Lost {
  const OpRecord* record;
  bool incr;
};

std::string Ms(int64_t t_us, int64_t t0_us) {
  char text[32];
  std::snprintf(text, sizeof(text), "+%.1f ms", static_cast<double>(t_us - t0_us) / 1000.0);
  return text;
}

std::string Describe(const OpRecord& r, int64_t t0_us) {
  return r.op + " " + r.key + (r.op == "PUT" ? "=" + r.value : " (returned " + r.value + ")") +
         " by client " + std::to_string(r.client) + ", sent at " + Ms(r.invoke_us, t0_us) +
         ", acknowledged at " + Ms(r.complete_us, t0_us) + " by replica #" +
         std::to_string(r.answered_by);
}

bool IsOwnWrite(const OpRecord& r) {
  return !r.hot && r.outcome == OpOutcome::kOk && (r.op == "PUT" || r.op == "INCR");
}

// Acknowledged INCRs whose effect is gone: a later acknowledged INCR of the same client
// returned no more than it did (its counter went back).
std::vector<const OpRecord*> LostIncrs(const std::vector<OpRecord>& history) {
  std::map<int, std::vector<const OpRecord*>> by_client;
  for (const OpRecord& r : history) {
    if (IsOwnWrite(r) && r.op == "INCR") by_client[r.client].push_back(&r);
  }
  std::vector<const OpRecord*> lost;
  for (auto& [client, incrs] : by_client) {
    std::stable_sort(incrs.begin(), incrs.end(), [](const OpRecord* a, const OpRecord* b) {
      return a->invoke_us < b->invoke_us;
    });
    int64_t later_min = std::numeric_limits<int64_t>::max();
    for (auto it = incrs.rbegin(); it != incrs.rend(); ++it) {
      const int64_t v = std::stoll((*it)->value);
      if (later_min <= v) lost.push_back(*it);
      later_min = std::min(later_min, v);
    }
  }
  return lost;
}

// Each client's counter: final value against acknowledged increments less the lost ones.
void CheckCounters(const std::vector<OpRecord>& history, const ReadValue& read,
                   const std::vector<const OpRecord*>& lost_incrs, AsyncLoss* out) {
  std::map<int, std::pair<std::string, int64_t>> counters;  // client -> key, acked - lost
  for (const OpRecord& r : history) {
    if (IsOwnWrite(r) && r.op == "INCR") {
      counters[r.client].first = r.key;
      ++counters[r.client].second;
    }
  }
  for (const OpRecord* r : lost_incrs) --counters[r->client].second;
  for (const auto& [client, counter] : counters) {
    const std::optional<std::string> got = read(counter.first);
    const int64_t v = got ? std::stoll(*got) : 0;
    if (v < counter.second) {
      out->problems.push_back("counter of client " + std::to_string(client) + " is " +
                              std::to_string(v) + ", below the " + std::to_string(counter.second) +
                              " acknowledged increments that no failover lost");
    }
  }
}

// The failover that lost `r`: the first one away from the replica that acknowledged it,
// after it was acknowledged; else the first one after it; -1 when none followed it.
int FailoverOf(const OpRecord& r, const std::vector<ActiveChange>& failovers) {
  int any = -1;
  for (size_t i = 0; i < failovers.size(); ++i) {
    if (failovers[i].t_us <= r.complete_us) continue;
    if (failovers[i].from == r.answered_by) return static_cast<int>(i);
    if (any < 0) any = static_cast<int>(i);
  }
  return any;
}

// The standby acknowledges in order: a write of the same active that was sent after a lost
// one was acknowledged, and survived, proves the standby had the lost one as well.
void CheckSuffix(int64_t t0_us, const std::vector<OpRecord>& history,
                 const std::vector<ActiveChange>& failovers, size_t index,
                 const std::vector<const OpRecord*>& lost,
                 const std::map<const OpRecord*, bool>& surviving_puts, AsyncLoss* out) {
  const ActiveChange& f = failovers[index];
  const int64_t from_us = index == 0 ? 0 : failovers[index - 1].t_us;
  const OpRecord* first = nullptr;
  for (const OpRecord* r : lost) {
    if (first == nullptr || r->complete_us < first->complete_us) first = r;
  }
  if (first == nullptr) return;
  for (const OpRecord& r : history) {
    auto kept = surviving_puts.find(&r);
    if (kept == surviving_puts.end() || !kept->second) continue;
    if (r.answered_by != f.from || r.complete_us <= from_us || r.complete_us >= f.t_us) continue;
    if (r.invoke_us <= first->complete_us) continue;
    out->problems.push_back("failover at " + Ms(f.t_us, t0_us) + " from " + f.from_name + " to " +
                            f.to_name + " lost " + Describe(*first, t0_us) + ", yet " +
                            Describe(r, t0_us) + ", sent after it, survived");
    return;
  }
}

// The old active's seq: what it reported when it came back in its old epoch (a restarted
// replica reports what its store kept: everything it committed), else its last report before
// the change. The new active's: its first report as active in the change's epoch.
void AddReportedSeqs(const std::vector<json>& events, ActiveChange* f) {
  int64_t before = -1, back = -1;
  for (const json& e : events) {
    if (e.value("kind", "") != "replica" || !e.contains("applied_seq")) continue;
    const std::string name = e.value("replica", "");
    const int64_t seq = e.value("applied_seq", int64_t{-1});
    const uint64_t epoch = e.value("epoch", uint64_t{0});
    if (name == f->from_name && e.value("t_us", int64_t{0}) <= f->t_us) {
      before = seq;
    } else if (name == f->from_name && back < 0 && e.contains("role") && epoch < f->epoch) {
      back = seq;
    }
    if (name == f->to_name && f->promoted_seq < 0 && epoch == f->epoch &&
        e.value("role", "").starts_with("Active")) {
      f->promoted_seq = seq;
    }
  }
  f->active_seq = back >= 0 ? back : before;
  f->active_came_back = back >= 0;
}

}  // namespace

std::vector<OpRecord> HistoryBefore(const std::vector<OpRecord>& history, int64_t cut_us) {
  std::vector<OpRecord> out;
  for (const OpRecord& r : history) {
    if (r.invoke_us >= cut_us) continue;
    out.push_back(r);
    if (r.complete_us > cut_us) {
      out.back().outcome = OpOutcome::kInfo;
      if (out.back().op != "PUT") out.back().value.clear();
      out.back().absent = false;
    }
  }
  return out;
}

std::vector<std::string> LinearizableViolations(const lin::CheckResult& result,
                                                int64_t time_limit_ms) {
  std::vector<std::string> out;
  if (result.verdict == lin::Verdict::kNotLinearizable) {
    out.push_back(result.Explain());
  } else if (result.verdict == lin::Verdict::kUnknown) {
    for (const lin::KeyResult& k : result.unknown) {
      out.push_back("key " + k.key + ": " + std::to_string(k.operations) +
                    " operations not decided within " + std::to_string(time_limit_ms) + " ms");
    }
    if (out.empty()) out.push_back("undecided within " + std::to_string(time_limit_ms) + " ms");
  }
  return out;
}

json LinearizabilityJson(const lin::CheckResult& result, int64_t t0_us) {
  json unknown = json::array();
  for (const lin::KeyResult& k : result.unknown) {
    unknown.push_back({{"key", k.key}, {"operations", k.operations}});
  }
  json out = {{"verdict", lin::VerdictName(result.verdict)},
              {"keys", result.keys},
              {"operations", result.operations},
              {"elapsed_ms", result.elapsed_ms},
              {"unknown_keys", unknown}};
  if (!result.failed.empty()) {
    const lin::KeyResult& k = result.failed.front();  // the smallest failing key's history
    out["failed_key"] = {{"key", k.key},
                         {"operations", k.operations},
                         {"detail", k.detail},
                         {"prefix", OperationsJson(k.prefix, t0_us)},
                         {"cannot_follow", OperationsJson(k.cannot_follow, t0_us)}};
  }
  return out;
}

std::vector<json> HistoryLines(const std::vector<OpRecord>& history, int64_t t0_us) {
  static const char* kOutcome[] = {"ok", "fail", "info"};
  std::vector<std::pair<int64_t, json>> timed;
  for (const OpRecord& r : history) {
    const json base = {{"client", r.client}, {"seq", r.request_seq}, {"op", r.op}, {"key", r.key}};
    json args = json::array();
    if (r.op == "PUT") args.push_back(r.value);
    if (r.op == "INCR") args.push_back(std::string(1, '1'));
    json invoke = base;
    invoke["type"] = "invoke";
    invoke["args"] = std::move(args);
    invoke["t_us"] = r.invoke_us - t0_us;
    timed.emplace_back(r.invoke_us, std::move(invoke));
    json done = base;
    done["type"] = kOutcome[static_cast<int>(r.outcome)];
    if (r.op != "PUT") done["value"] = r.value;  // a PUT's record holds what it wrote (args)
    done["absent"] = r.absent;
    done["t_us"] = r.complete_us - t0_us;
    done["attempts"] = r.attempts;
    timed.emplace_back(r.complete_us, std::move(done));
  }
  // A completion is never before its own invoke; stable, so an instant operation keeps order.
  std::stable_sort(timed.begin(), timed.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<json> out;
  out.reserve(timed.size());
  for (auto& [t, line] : timed) out.push_back(std::move(line));
  return out;
}

std::vector<ActiveChange> FailoversOf(const std::vector<json>& events,
                                      const std::vector<std::string>& replicas) {
  std::vector<ActiveChange> out;
  std::string last;
  for (const json& e : events) {
    if (e.value("kind", "") != "cluster") continue;
    const std::string active = e.value("active", "");
    if (active.empty() || active == last) continue;
    if (!last.empty()) {
      ActiveChange f;
      f.t_us = e.value("t_us", int64_t{0});
      f.epoch = e.value("epoch", uint64_t{0});
      f.from_name = last;
      f.to_name = active;
      for (size_t i = 0; i < replicas.size(); ++i) {
        if (replicas[i] == last) f.from = static_cast<int>(i);
        if (replicas[i] == active) f.to = static_cast<int>(i);
      }
      out.push_back(f);
    }
    last = active;
  }
  for (ActiveChange& f : out) AddReportedSeqs(events, &f);
  return out;
}

AsyncLoss CheckAsyncLoss(const std::vector<OpRecord>& history, const ReadValue& read,
                         const std::vector<ActiveChange>& failovers, uint64_t lag_ops_max,
                         int64_t t0_us) {
  AsyncLoss out;
  std::vector<Lost> lost;
  std::map<const OpRecord*, bool> surviving_puts;  // acknowledged unique PUTs: still there?
  for (const OpRecord& r : history) {
    if (!IsOwnWrite(r) || r.op != "PUT") continue;
    const bool kept = read(r.key) == r.value;
    surviving_puts[&r] = kept;
    if (!kept) lost.push_back({&r, false});
  }
  const std::vector<const OpRecord*> lost_incrs = LostIncrs(history);
  for (const OpRecord* r : lost_incrs) lost.push_back({r, true});
  CheckCounters(history, read, lost_incrs, &out);

  out.failovers.resize(failovers.size());
  std::vector<std::vector<const OpRecord*>> lost_at(failovers.size());
  for (size_t i = 0; i < failovers.size(); ++i) out.failovers[i].failover = failovers[i];
  for (const Lost& l : lost) {
    ++out.lost;
    const int i = FailoverOf(*l.record, failovers);
    if (i < 0) {
      out.problems.push_back("acknowledged " + Describe(*l.record, t0_us) +
                             " is lost, and no failover followed it");
      continue;
    }
    FailoverLoss& f = out.failovers[static_cast<size_t>(i)];
    ++(l.incr ? f.lost_incrs : f.lost_puts);
    if (f.examples.size() < kExamplesMax) f.examples.push_back(Describe(*l.record, t0_us));
    lost_at[static_cast<size_t>(i)].push_back(l.record);
  }
  for (size_t i = 0; i < failovers.size(); ++i) {
    const FailoverLoss& f = out.failovers[i];
    if (f.lost() > lag_ops_max) {
      out.problems.push_back("failover at " + Ms(f.failover.t_us, t0_us) + " from " +
                             f.failover.from_name + " to " + f.failover.to_name + " lost " +
                             std::to_string(f.lost()) +
                             " acknowledged writes, more than the lag bound " +
                             std::to_string(lag_ops_max) + " (replication.max_lag_ops)");
    }
    const int64_t tail = f.failover.ReportedTail();
    if (f.failover.active_came_back && tail >= 0 && f.lost() > static_cast<uint64_t>(tail)) {
      out.problems.push_back(
          "failover at " + Ms(f.failover.t_us, t0_us) + " from " + f.failover.from_name + " to " +
          f.failover.to_name + " lost " + std::to_string(f.lost()) +
          " acknowledged writes, more than the tail the replicas reported (" +
          f.failover.from_name + " had committed seq " + std::to_string(f.failover.active_seq) +
          ", " + f.failover.to_name + " was promoted at seq " +
          std::to_string(f.failover.promoted_seq) + ")");
    }
    CheckSuffix(t0_us, history, failovers, i, lost_at[i], surviving_puts, &out);
  }
  return out;
}

json AsyncLoss::ToJson(int64_t t0_us, uint64_t lag_ops_max) const {
  json per = json::array();
  for (const FailoverLoss& f : failovers) {
    per.push_back({{"t_ms", (f.failover.t_us - t0_us) / 1000.0},
                   {"epoch", f.failover.epoch},
                   {"from", f.failover.from_name},
                   {"to", f.failover.to_name},
                   {"lost", f.lost()},
                   {"lost_puts", f.lost_puts},
                   {"lost_incrs", f.lost_incrs},
                   {"old_active_seq", f.failover.active_seq},
                   {"promoted_seq", f.failover.promoted_seq},
                   {"reported_tail_ops", f.failover.ReportedTail()},
                   {"examples", f.examples}});
  }
  return {{"lag_ops_max", lag_ops_max}, {"lost", lost}, {"failovers", per}};
}

}  // namespace duplex
