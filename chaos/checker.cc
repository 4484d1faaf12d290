#include "chaos/checker.h"

#include <map>
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
    if (!read) continue;
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

}  // namespace duplex
