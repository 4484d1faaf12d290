// The chaos checker: the invariants a chaos run or a simulated run is judged by, named
// only at the report and JSON edge (InvariantName); the client-history checker both use
// (the data); and the checks over the coordinator's event log (roles, epochs, feature
// flags). Each check returns its problems in history order, naming when and who; none
// when the history is clean. Pure functions (the history checker reads the final state
// only through the function it is given).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "chaos/linearizability.h"

namespace duplex {

enum class Invariant {
  kLostWrites,         // no acknowledged write missing
  kPhantomWrites,      // no failed write visible
  kDoubleApplied,      // no request applied twice
  kOneActivePerEpoch,  // at most one active per epoch, epochs only grow
  kReplicasConverge,   // equal replica digests after the faults
  kCampaignOutcome,    // the expected campaign outcome, through legal transitions only
  kFeatureGate,        // no feature enabled while an old-version replica ran
  kNoCrashReports,     // no sanitizer or assertion report in any process log
  // At most one coordinator acts in any term, and none decides after a newer term acted.
  kOneCoordinatorPerTerm,
  // The whole client history (reads included) linearizable on the duplex-kv model
  // (chaos/linearizability.h); "unknown" when it cannot be decided in time is not a pass.
  kLinearizable,
};
// All of them, in report order.
inline constexpr Invariant kInvariants[] = {
    Invariant::kLostWrites,        Invariant::kPhantomWrites,    Invariant::kDoubleApplied,
    Invariant::kOneActivePerEpoch, Invariant::kReplicasConverge, Invariant::kCampaignOutcome,
    Invariant::kFeatureGate,       Invariant::kNoCrashReports,   Invariant::kOneCoordinatorPerTerm,
    Invariant::kLinearizable};
// "lost-writes", "phantom-writes", ...: the names reports, JSON and the simulator print.
const char* InvariantName(Invariant invariant);

// One client operation: invoked, then acknowledged (ok), refused (fail), or of unknown
// outcome (info: it may or may not have been applied).
enum class OpOutcome { kOk, kFail, kInfo };

struct OpRecord {
  int client = 0;
  uint64_t request_seq = 0;  // 0 for a read (never deduplicated)
  std::string op;            // PUT, INCR (by 1), GET, DEL
  std::string key;
  // PUT: the value written; INCR, GET, DEL: the value the reply carried (ok only)
  std::string value;
  bool absent = false;  // a GET answered "not found"
  // On the shared hot keys that several clients write and read: judged by the
  // linearizability checker only (CheckHistory's final-state checks cover the unique PUT
  // keys and each client's own counter).
  bool hot = false;
  OpOutcome outcome = OpOutcome::kInfo;
  int64_t invoke_us = 0;
  int64_t complete_us = 0;
  int attempts = 0;
  int answered_by = -1;  // index of the endpoint that answered
};

struct HistoryProblem {
  Invariant invariant;
  std::string detail;
};
std::ostream& operator<<(std::ostream& out, const HistoryProblem& problem);

struct CheckResult {
  uint64_t ok = 0, fail = 0, info = 0;
  uint64_t lost = 0;                     // ok writes missing from the final state
  uint64_t double_applied = 0;           // requests whose effect shows more than once
  uint64_t phantom = 0;                  // failed writes that are visible
  std::vector<HistoryProblem> problems;  // the first few, spelled out, in history order
  bool Clean() const { return lost == 0 && double_applied == 0 && phantom == 0; }
  // The spelled-out problems of one invariant.
  std::vector<std::string> Details(Invariant invariant) const;
};

// The final value of a key; nullopt when it is absent or cannot be read.
using ReadValue = std::function<std::optional<std::string>(const std::string& key)>;

// A client history against the final state, read through `read` (each PUT's key and each
// client's counter): every acknowledged PUT visible, no failed PUT visible, each counter
// at least its acknowledged increments and at most those plus the unknown ones, and no
// INCR reply jumping further than the unknown increments before it allow. Spells out the
// first problems_max problems. Without `read`, only counts the outcomes.
CheckResult CheckHistory(const std::vector<OpRecord>& history, const ReadValue& read,
                         size_t problems_max);

// The history on the duplex-kv model (every op, hot or not), checked for linearizability.
lin::CheckResult CheckLinearizable(const std::vector<OpRecord>& history,
                                   const lin::CheckOptions& options);

// No feature enabled while an old-version replica ran: whenever a live replica enables
// features up to cluster version C, and whenever the cluster record's version rises to
// C, every live replica reports a version >= C.
std::vector<std::string> CheckFeatureGate(const std::vector<nlohmann::json>& events);

// Fencing: at most one replica reports itself active in any epoch, and epochs only grow
// (for each replica, and in the cluster record).
std::vector<std::string> CheckEpochs(const std::vector<nlohmann::json>& events);

// --- several coordinators ------------------------------------------------------------
// One coordinator's event log, named by its host. Each logs
// {"kind":"leadership","coordinator":"h1","term":N,"acting":true} when it starts to act and
// the same with "acting":false (and a reason) when it stops.
struct CoordinatorLog {
  std::string coordinator;
  std::vector<nlohmann::json> events;
};

// What the acting coordinators logged, in time order (t_us: one steady clock per machine):
// each log's events from an "acting":true to the next "acting":false, the leadership events
// themselves, and all of a log that has none (a coordinator alone). The campaign and
// feature-gate checks read this: a follower's view of the record is not a decision.
std::vector<nlohmann::json> ActingEvents(const std::vector<CoordinatorLog>& logs);

// CheckEpochs over each log alone (a lagging follower may see an epoch after another log saw
// the next one), and across all logs: two replicas active in one epoch, whoever saw them.
std::vector<std::string> CheckEpochsOfLogs(const std::vector<CoordinatorLog>& logs);

// Coordinator fencing: at most one coordinator starts to act in any term; each coordinator's
// terms only grow; and none logs a decision (the cluster record's epoch rising, a campaign
// change) after a coordinator of a newer term started to act, until it has stepped down:
// a leader frozen and thawed steps down, it does not act on a stale view.
std::vector<std::string> CheckCoordinatorTerms(const std::vector<CoordinatorLog>& logs);

// How many times leadership passed to another coordinator (or back): the "acting":true
// events, all logs together, after the first.
int LeadershipChanges(const std::vector<CoordinatorLog>& logs);

// For each time in `at_us`, how long until some coordinator other than the one acting then
// started to act (a new term), in ms; -1 when none did.
std::vector<double> LeaderFailoverMs(const std::vector<CoordinatorLog>& logs,
                                     const std::vector<int64_t>& at_us);

}  // namespace duplex
