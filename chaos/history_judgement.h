// The client-history judgements a chaos run makes beside CheckHistory (chaos/checker.h):
// the linearizability verdict (the whole history in sync mode; in async mode the history up
// to the first fault) and, in async mode, the accounting of acknowledged writes lost at each
// failover against what the pair announced. Owned by the scenario runner; pure functions over
// the history and the coordinator's events; thread-compatible.
#pragma once

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "chaos/checker.h"
#include "chaos/linearizability.h"

namespace duplex {

// The history as far as async mode promises linearizability: the operations invoked before
// cut_us; one still open at cut_us becomes of unknown outcome (it may have taken effect, or
// not, and what it returned is not judged). A failover in async mode may lose the
// unreplicated tail (DESIGN.md "Replication and durability"), so what follows it is judged by
// the loss accounting below, not by the linearizability checker.
std::vector<OpRecord> HistoryBefore(const std::vector<OpRecord>& history, int64_t cut_us);

// The linearizable invariant's violations: none when linearizable; for a violation the
// smallest failing key's explanation; for an undecided history one line per key left
// unknown, naming the key and its operation count (an unknown verdict is not a pass).
std::vector<std::string> LinearizableViolations(const lin::CheckResult& result,
                                                int64_t time_limit_ms);

// result.json's "linearizability": verdict, keys, operations, elapsed_ms, the keys left
// unknown, and for a violation "failed_key": its name, operation count, detail, "prefix" (the
// longest linearizable order found) and "cannot_follow" (the operations none of which can come
// next), each operation {client, f, input, output, absent, outcome, invoke_ms, complete_ms}
// with times relative to t0_us.
nlohmann::json LinearizabilityJson(const lin::CheckResult& result, int64_t t0_us);

// The history as history.jsonl's lines (brief-common.md; `duplex check-history FILE --model
// duplex-kv` reads them), in time order: each operation's invoke
// {"type":"invoke","client","seq","op","key","args","t_us"} (args: the request's arguments
// after the key) and its completion {"type":"ok"|"fail"|"info", ..., "value","absent","t_us",
// "attempts"} (value: the reply's, for GET, DEL and INCR; a PUT's reply carries nothing the
// model reads, and the workload does not keep it). Times relative to t0_us.
std::vector<nlohmann::json> HistoryLines(const std::vector<OpRecord>& history, int64_t t0_us);

// A change of active replica, as the coordinator logged it.
struct ActiveChange {
  int64_t t_us = 0;  // when the coordinator logged the new active
  uint64_t epoch = 0;
  int from = -1, to = -1;  // replica indexes (endpoint order)
  std::string from_name, to_name;
  // What the replicas reported (the coordinator logs a replica's applied_seq with each change
  // of its role, epoch or liveness), -1 when not logged: the old active's seq when it came
  // back, still in its old epoch (a restarted replica reports what its store kept, i.e. all it
  // had committed; else its last report before the change, a lower bound), and the new
  // active's when it first reported itself active (what it had as standby). Their difference
  // is the unreplicated tail the pair reported, in deltas (hot writes included).
  int64_t active_seq = -1, promoted_seq = -1;
  bool active_came_back = false;  // active_seq is what the old active kept, not a lower bound
  int64_t ReportedTail() const {
    return active_seq < 0 || promoted_seq < 0 ? -1
                                              : std::max<int64_t>(0, active_seq - promoted_seq);
  }
};

// Every "cluster" event whose active is another replica than the last one named (an event
// naming none, between two actives, is skipped), with the seqs the replicas reported.
// `replicas` are the names in endpoint order.
std::vector<ActiveChange> FailoversOf(const std::vector<nlohmann::json>& events,
                                      const std::vector<std::string>& replicas);

struct FailoverLoss {
  ActiveChange failover;
  uint64_t lost_puts = 0, lost_incrs = 0;
  std::vector<std::string> examples;  // the first few lost writes, spelled out
  uint64_t lost() const { return lost_puts + lost_incrs; }
};

struct AsyncLoss {
  std::vector<FailoverLoss> failovers;
  uint64_t lost = 0;                  // all lost acknowledged writes found
  std::vector<std::string> problems;  // loss beyond what the pair announced
  nlohmann::json ToJson(int64_t t0_us, uint64_t lag_ops_max) const;
};

// Acknowledged writes lost in async mode, per failover, judged against what the pair
// announced: the unique PUTs (read through `read`) and each client's INCRs (an acknowledged
// INCR is lost when a later one of the same client returns no more than it did) whose
// effect is gone. Each lost write is laid to the first failover away from the replica that
// acknowledged it, after it was acknowledged; a problem when:
//  - there is no such failover (a write lost without a failover);
//  - a failover lost more than lag_ops_max writes (the lag bound: the active stops
//    acknowledging when its standby is that many deltas behind);
//  - a failover lost more writes than the tail the pair reported, when the old active came
//    back and reported what it had committed (each write is one delta);
//  - a lost write was acknowledged before a write of the same active that survived was even
//    sent: the standby acknowledges in order, so it had acknowledged the lost one too;
//  - a client's counter ends below its acknowledged increments minus the lost ones.
// Hot-key writes are not counted (several clients overwrite them; what the loss did to them
// cannot be told apart from what later writes did). Times are spelled relative to t0_us.
AsyncLoss CheckAsyncLoss(const std::vector<OpRecord>& history, const ReadValue& read,
                         const std::vector<ActiveChange>& failovers, uint64_t lag_ops_max,
                         int64_t t0_us = 0);

}  // namespace duplex
