// The linearizability checker: Wing–Gong–Lowe search with Lowe's cache of (linearized set,
// model state), split by key (P-compositionality), over histories of complete, failed and
// unknown-outcome operations, for three models (a compare-and-set register, a get/put/append
// map, and duplex's kv). Used by the chaos runner, the simulator's judge and
// `duplex check-history`. Pure functions; thread-compatible; a check may run on any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace duplex::lin {

// How an operation ended, as its client saw it.
enum class Outcome {
  kOk,       // completed: it took effect once, between invoke and complete, with `output`
  kFail,     // definitely did not take effect (refused, a Jepsen :fail read or write)
  kUnknown,  // timed out or still open at the end: took effect once at any time after its
             // invoke, or never (Jepsen :info); its output is unknown
};

// One operation of a history. The meaning of `f`, `input` and `output` is the model's:
//   cas-register: f read|write|cas; input "" | "V" | "FROM TO"; output of a read "V" or "nil",
//                 of a cas "ok" (swapped) or "fail" (the value was not FROM: a Jepsen
//                 `:fail :cas` is a completed cas that observed the register, as Porcupine
//                 reads it, not an operation without effect)
//   kv-append:    f get|put|append; input the value; output of a get the value ("" = absent)
//   duplex-kv:    f GET|PUT|DEL|INCR|PUTEX|TTL; input the request's args after the key,
//                 space-separated ("v1", "1", "v1 500"); output the reply's value;
//                 `absent` for a GET or TTL answered "not found"; `now_ms` the request's time
//                 as the active stamped it (PUTEX/TTL expiry), -1 when unknown.
struct Operation {
  int client = 0;
  std::string key;  // the partition: operations on different keys are independent
  std::string f;
  std::string input;
  std::string output;
  bool absent = false;
  int64_t now_ms = -1;
  Outcome outcome = Outcome::kUnknown;
  int64_t invoke_us = 0;
  int64_t complete_us = 0;  // ignored for kUnknown (it may take effect until the end)
  size_t line = 0;          // where the history file named it (invoke line), for reports
};

enum class ModelKind { kCasRegister, kKvAppend, kDuplexKv };
// "cas-register", "kv-append", "duplex-kv"; unknown names are an error that lists these.
StatusOr<ModelKind> ModelNamed(const std::string& name);
const char* ModelName(ModelKind model);

enum class Verdict { kLinearizable, kNotLinearizable, kUnknown };
const char* VerdictName(Verdict verdict);  // "linearizable", "not linearizable", "unknown"

struct CheckOptions {
  // The whole check's time bound; a key not decided by then makes the verdict kUnknown
  // (never kLinearizable), naming the key and its operation count. So does a key whose
  // search outgrows its memory bound (1 GiB of cached configurations).
  int64_t time_limit_ms = 10000;
  // Keys are checked on up to this many threads (a large history only; 1: the caller's).
  int threads_max = 2;
};

// A key's verdict. For a violation: the longest linearizable prefix found (operations in
// their linearization order) and the operations none of which can follow it.
struct KeyResult {
  std::string key;
  Verdict verdict = Verdict::kLinearizable;
  size_t operations = 0;
  std::vector<Operation> prefix;         // violation: the longest linearizable order found
  std::vector<Operation> cannot_follow;  // violation: each pending op at that point
  std::string detail;                    // one paragraph a person can read
};

struct CheckResult {
  Verdict verdict = Verdict::kLinearizable;  // kNotLinearizable if any key is; else kUnknown
                                             // if any key is; else kLinearizable
  size_t keys = 0, operations = 0;
  double elapsed_ms = 0;
  // The keys not linearizable (smallest history first) and those left unknown.
  std::vector<KeyResult> failed;
  std::vector<KeyResult> unknown;
  // The smallest failing key's history, spelled out for a person (empty when none failed).
  std::string Explain() const;
};

CheckResult Check(ModelKind model, const std::vector<Operation>& history,
                  const CheckOptions& options = {});

}  // namespace duplex::lin
