// Readers of recorded histories for the linearizability checker (chaos/linearizability.h):
// Jepsen's etcd log (cas-register), Porcupine's key-value EDN lines (kv-append) and duplex's
// own history.jsonl (duplex-kv), each described in tests/testdata/linearizability/README.md
// and brief-common's history.jsonl section. Every error names the line. Pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "chaos/linearizability.h"
#include "common/status.h"

namespace duplex::lin {

// Jepsen's etcd test log: `INFO  jepsen.util - P\t:invoke\t:cas\t[1 2]` and the like; lines
// of other forms are noise and skipped. Times are line numbers. `:fail :cas` is a completed
// cas that found another value (output "fail"); `:fail` of a read or write had no effect;
// `:info`, or no completion at all, is an unknown outcome.
StatusOr<std::vector<Operation>> ParseJepsenEtcdLog(std::string_view text);

// One EDN map a line: `{:process 0, :type :ok, :f :get, :key "3", :value "x 0 0 y"}`, with
// :type invoke|ok|fail|info and :f get|put|append. A get's nil value reads as "". Times are
// line numbers; blank lines are skipped.
StatusOr<std::vector<Operation>> ParseKvEdn(std::string_view text);

// duplex's history.jsonl: an "invoke" object, then its "ok", "fail" or "info" completion,
// per client; an invoke never completed is an unknown outcome. Times are the lines' t_us.
StatusOr<std::vector<Operation>> ParseDuplexHistory(std::string_view text);

// The reader of `model`'s format.
StatusOr<std::vector<Operation>> ParseHistory(ModelKind model, std::string_view text);

// ParseHistory on a file's contents; errors name the file too.
StatusOr<std::vector<Operation>> ReadHistoryFile(ModelKind model, const std::string& path);

}  // namespace duplex::lin
