#include "chaos/checker.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <set>

#include "feature_flags/feature_set.h"

namespace duplex {
namespace {

using nlohmann::json;

std::string When(const json& e) {
  return "at t=" + std::to_string(e.value("t_us", int64_t{0})) + "us";
}

// a < b as versions; text that is not a version never compares below.
bool Older(const std::string& a, const std::string& b) {
  auto va = ParseVersion(a);
  auto vb = ParseVersion(b);
  return va.ok() && vb.ok() && *va < *vb;
}

// A replica's latest report as the log shows it, only while its process is alive.
struct Seen {
  bool alive = false;
  std::string version, cluster_version;
};

// Lines for every live replica older than `enabled`, blamed on `who`.
// A violation is reported once, at its first sighting, however long it lasts.
void OlderThan(const std::map<std::string, Seen>& replicas, const std::string& enabled,
               const std::string& who, const json& e, std::set<std::string>* seen_before,
               std::vector<std::string>* out) {
  for (const auto& [name, seen] : replicas) {
    if (!seen.alive || !Older(seen.version, enabled)) continue;
    std::string what =
        who + " enables features up to " + enabled + " while " + name + " runs " + seen.version;
    if (seen_before->insert(what).second) out->push_back(When(e) + ": " + what);
  }
}

// A client's counter, as its INCRs left it.
struct Counter {
  std::string key;
  uint64_t ok = 0, info = 0;  // increments acknowledged, and of unknown outcome
  int64_t last_returned = 0;
};

// One pass of the history checker: what it found so far.
struct HistoryPass {
  const ReadValue& read;
  size_t problems_max;
  CheckResult out;
  std::map<int, Counter> counters;  // by client

  void Problem(Invariant invariant, std::string detail) {
    if (out.problems.size() < problems_max) out.problems.push_back({invariant, std::move(detail)});
  }

  void Incr(const OpRecord& r) {
    Counter& c = counters[r.client];
    c.key = r.key;
    if (r.outcome == OpOutcome::kInfo) ++c.info;
    if (r.outcome != OpOutcome::kOk) return;
    ++c.ok;
    int64_t v = std::stoll(r.value);
    // Each acknowledged increment returns one more than the last, unless an unknown
    // one came in between: a jump of two after a retry would be a double apply.
    if (v - c.last_returned > 1 + static_cast<int64_t>(c.info)) {
      ++out.double_applied;
      Problem(Invariant::kDoubleApplied, "client " + std::to_string(r.client) + " INCR returned " +
                                             r.value + " after " + std::to_string(c.last_returned));
    }
    c.last_returned = v;
  }

  void Put(const OpRecord& r) {
    if (r.outcome == OpOutcome::kInfo) return;  // either way is right
    std::optional<std::string> got = read(r.key);
    if (r.outcome == OpOutcome::kOk && got != r.value) {
      ++out.lost;
      Problem(Invariant::kLostWrites, "acknowledged PUT " + r.key + " is missing");
    }
    if (r.outcome == OpOutcome::kFail && got) {
      ++out.phantom;
      Problem(Invariant::kPhantomWrites, "failed PUT " + r.key + " is visible");
    }
  }

  void Final(int client, const Counter& c) {
    std::optional<std::string> got = read(c.key);
    int64_t v = got ? std::stoll(*got) : 0;
    std::string counter =
        "counter of client " + std::to_string(client) + " is " + std::to_string(v);
    if (v < static_cast<int64_t>(c.ok)) {
      out.lost += c.ok - v;
      Problem(Invariant::kLostWrites,
              counter + " after " + std::to_string(c.ok) + " acknowledged increments");
    }
    if (v > static_cast<int64_t>(c.ok + c.info)) {
      out.double_applied += v - (c.ok + c.info);
      Problem(Invariant::kDoubleApplied,
              counter + ", more than " + std::to_string(c.ok + c.info) + " increments sent");
    }
  }
};

}  // namespace

const char* InvariantName(Invariant invariant) {
  switch (invariant) {
    case Invariant::kLostWrites:
      return "lost-writes";
    case Invariant::kPhantomWrites:
      return "phantom-writes";
    case Invariant::kDoubleApplied:
      return "double-applied";
    case Invariant::kOneActivePerEpoch:
      return "one-active-per-epoch";
    case Invariant::kReplicasConverge:
      return "replicas-converge";
    case Invariant::kCampaignOutcome:
      return "campaign-outcome";
    case Invariant::kFeatureGate:
      return "feature-gate";
    case Invariant::kNoCrashReports:
      return "no-crash-reports";
    case Invariant::kOneCoordinatorPerTerm:
      return "one-acting-coordinator-per-term";
    case Invariant::kLinearizable:
      return "linearizable";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& out, const HistoryProblem& problem) {
  return out << InvariantName(problem.invariant) << ": " << problem.detail;
}

std::vector<std::string> CheckResult::Details(Invariant invariant) const {
  std::vector<std::string> out;
  for (const auto& p : problems) {
    if (p.invariant == invariant) out.push_back(p.detail);
  }
  return out;
}

CheckResult CheckHistory(const std::vector<OpRecord>& history, const ReadValue& read,
                         size_t problems_max) {
  HistoryPass pass{read, problems_max, {}, {}};
  for (const auto& r : history) {
    if (r.outcome == OpOutcome::kOk) ++pass.out.ok;
    if (r.outcome == OpOutcome::kFail) ++pass.out.fail;
    if (r.outcome == OpOutcome::kInfo) ++pass.out.info;
    // Hot keys are shared by all clients: only the linearizability checker can judge them.
    if (!read || r.hot) continue;
    if (r.op == "INCR") {
      pass.Incr(r);
    } else {
      pass.Put(r);
    }
  }
  if (read) {
    for (const auto& [client, c] : pass.counters) pass.Final(client, c);
  }
  return std::move(pass.out);
}

std::vector<std::string> CheckFeatureGate(const std::vector<json>& events) {
  std::vector<std::string> out;
  std::map<std::string, Seen> replicas;
  std::set<std::string> reported;
  std::string cluster_version;
  for (const json& e : events) {
    std::string kind = e.value("kind", "");
    if (kind == "replica") {
      Seen& seen = replicas[e.value("replica", "")];
      seen.alive = e.value("alive", false) && e.contains("version");
      seen.version = e.value("version", "");
      seen.cluster_version = e.value("cluster_version", "");
    } else if (kind == "cluster") {
      std::string next = e.value("cluster_version", "");
      if (next != cluster_version && !next.empty()) {
        OlderThan(replicas, next, "the cluster record", e, &reported, &out);
      }
      cluster_version = next;
      continue;
    } else {
      continue;
    }
    for (const auto& [name, seen] : replicas) {
      if (seen.alive && !seen.cluster_version.empty()) {
        OlderThan(replicas, seen.cluster_version, "replica " + name, e, &reported, &out);
      }
    }
  }
  return out;
}

std::vector<std::string> CheckEpochs(const std::vector<json>& events) {
  std::vector<std::string> out;
  std::map<uint64_t, std::set<std::string>> actives;
  std::map<std::string, uint64_t> epoch_of;
  uint64_t cluster_epoch = 0;
  for (const json& e : events) {
    std::string kind = e.value("kind", "");
    uint64_t epoch = e.value("epoch", uint64_t{0});
    if (kind == "cluster") {
      if (epoch < cluster_epoch) {
        out.push_back(When(e) + ": the cluster record's epoch went back from " +
                      std::to_string(cluster_epoch) + " to " + std::to_string(epoch));
      }
      cluster_epoch = std::max(cluster_epoch, epoch);
    }
    if (kind != "replica" || !e.contains("epoch")) continue;
    std::string name = e.value("replica", "");
    if (epoch < epoch_of[name]) {
      out.push_back(When(e) + ": replica " + name + "'s epoch went back from " +
                    std::to_string(epoch_of[name]) + " to " + std::to_string(epoch));
    }
    epoch_of[name] = std::max(epoch_of[name], epoch);
    if (e.value("role", "").starts_with("Active")) {
      auto& names = actives[epoch];
      names.insert(name);
      if (names.size() == 2) {
        out.push_back(When(e) + ": two actives in epoch " + std::to_string(epoch) + ": " +
                      *names.begin() + " and " + *names.rbegin());
      }
    }
  }
  return out;
}

namespace {

bool IsLeadership(const json& e) { return e.value("kind", "") == "leadership"; }

int64_t TimeUs(const json& e) { return e.value("t_us", int64_t{0}); }

// One stretch of acting: a coordinator, its term, from .. to (INT64_MAX: to the end).
struct ActingSpan {
  std::string coordinator;
  uint64_t term = 0;
  int64_t from_us = 0;
  int64_t to_us = INT64_MAX;
};

std::vector<ActingSpan> Spans(const std::vector<CoordinatorLog>& logs) {
  std::vector<ActingSpan> spans;
  for (const CoordinatorLog& log : logs) {
    std::optional<ActingSpan> open;
    for (const json& e : log.events) {
      if (!IsLeadership(e)) continue;
      if (open) {
        open->to_us = TimeUs(e);
        spans.push_back(*open);
        open.reset();
      }
      if (e.value("acting", false)) {
        open = ActingSpan{log.coordinator, e.value("term", uint64_t{0}), TimeUs(e), INT64_MAX};
      }
    }
    if (open) spans.push_back(*open);
  }
  std::sort(spans.begin(), spans.end(),
            [](const ActingSpan& a, const ActingSpan& b) { return a.from_us < b.from_us; });
  return spans;
}

// A decision only the acting coordinator takes: the record's epoch rising, a campaign change.
bool IsDecision(const json& e, uint64_t* cluster_epoch) {
  const std::string kind = e.value("kind", "");
  if (kind == "campaign") return true;
  if (kind != "cluster") return false;
  const uint64_t epoch = e.value("epoch", uint64_t{0});
  const bool rose = epoch > *cluster_epoch;
  *cluster_epoch = std::max(*cluster_epoch, epoch);
  return rose && epoch > 1;
}

}  // namespace

std::vector<json> ActingEvents(const std::vector<CoordinatorLog>& logs) {
  std::vector<json> out;
  for (const CoordinatorLog& log : logs) {
    const bool alone = std::none_of(log.events.begin(), log.events.end(),
                                    [](const json& e) { return IsLeadership(e); });
    bool acting = alone;
    for (const json& e : log.events) {
      if (IsLeadership(e)) {
        acting = e.value("acting", false);
        out.push_back(e);
      } else if (acting) {
        out.push_back(e);
      }
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const json& a, const json& b) { return TimeUs(a) < TimeUs(b); });
  return out;
}

std::vector<std::string> CheckEpochsOfLogs(const std::vector<CoordinatorLog>& logs) {
  std::vector<std::string> out;
  std::map<uint64_t, std::set<std::string>> actives;
  for (const CoordinatorLog& log : logs) {
    for (const std::string& v : CheckEpochs(log.events)) out.push_back(log.coordinator + ": " + v);
    for (const json& e : log.events) {
      if (e.value("kind", "") != "replica" || !e.value("role", "").starts_with("Active")) continue;
      actives[e.value("epoch", uint64_t{0})].insert(e.value("replica", ""));
    }
  }
  for (const auto& [epoch, names] : actives) {
    if (names.size() < 2 || logs.size() < 2) continue;  // one log: CheckEpochs said it already
    out.push_back("two actives in epoch " + std::to_string(epoch) +
                  " across the logs: " + *names.begin() + " and " + *names.rbegin());
  }
  return out;
}

std::vector<std::string> CheckCoordinatorTerms(const std::vector<CoordinatorLog>& logs) {
  std::vector<std::string> out;
  const std::vector<ActingSpan> spans = Spans(logs);
  std::map<uint64_t, std::string> acting_in;  // term -> the coordinator that acted in it
  std::map<std::string, uint64_t> last_term;
  for (const ActingSpan& span : spans) {
    auto [it, fresh] = acting_in.emplace(span.term, span.coordinator);
    if (!fresh && it->second != span.coordinator) {
      out.push_back("at t=" + std::to_string(span.from_us) + "us: " + span.coordinator +
                    " acts in term " + std::to_string(span.term) + ", in which " + it->second +
                    " acted");
    }
    uint64_t& last = last_term[span.coordinator];
    if (span.term < last) {
      out.push_back("at t=" + std::to_string(span.from_us) + "us: " + span.coordinator +
                    " acts in term " + std::to_string(span.term) + " after term " +
                    std::to_string(last));
    }
    last = std::max(last, span.term);
  }
  // Decisions a coordinator logged while it believed it acted, after a newer term began.
  for (const ActingSpan& span : spans) {
    int64_t newer_us = INT64_MAX;
    for (const ActingSpan& other : spans) {
      if (other.term > span.term && other.from_us < newer_us) newer_us = other.from_us;
    }
    if (newer_us == INT64_MAX) continue;
    for (const CoordinatorLog& log : logs) {
      if (log.coordinator != span.coordinator) continue;
      uint64_t cluster_epoch = 0;
      for (const json& e : log.events) {
        const bool decision = IsDecision(e, &cluster_epoch);
        const int64_t t = TimeUs(e);
        if (!decision || t <= newer_us || t < span.from_us || t >= span.to_us) continue;
        out.push_back(When(e) + ": " + span.coordinator + " of term " + std::to_string(span.term) +
                      " logs a decision (" + e.dump() +
                      ") after a newer term began acting at t=" + std::to_string(newer_us) + "us");
      }
    }
  }
  return out;
}

int LeadershipChanges(const std::vector<CoordinatorLog>& logs) {
  const std::size_t spans = Spans(logs).size();
  return spans == 0 ? 0 : static_cast<int>(spans) - 1;
}

std::vector<double> LeaderFailoverMs(const std::vector<CoordinatorLog>& logs,
                                     const std::vector<int64_t>& at_us) {
  const std::vector<ActingSpan> spans = Spans(logs);
  std::vector<double> out;
  for (int64_t at : at_us) {
    uint64_t term_then = 0;  // the newest term acting when it happened
    for (const ActingSpan& span : spans) {
      if (span.from_us <= at) term_then = std::max(term_then, span.term);
    }
    double ms = -1;
    for (const ActingSpan& span : spans) {
      if (span.term > term_then && span.from_us >= at) {
        ms = (span.from_us - at) / 1000.0;
        break;
      }
    }
    out.push_back(ms);
  }
  return out;
}

}  // namespace duplex
