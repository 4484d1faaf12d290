// CheckLinearizable (chaos/checker.h): a workload's client history on the duplex-kv model.
#include "chaos/checker.h"

namespace duplex {
namespace {

// The amount every workload INCR adds (a named string: GCC 12's -Wrestrict misfires on
// assigning the literal).
const std::string kIncrAmount = "1";

}  // namespace

lin::CheckResult CheckLinearizable(const std::vector<OpRecord>& history,
                                   const lin::CheckOptions& options) {
  std::vector<lin::Operation> ops;
  ops.reserve(history.size());
  for (const OpRecord& r : history) {
    lin::Operation op;
    op.client = r.client;
    op.key = r.key;
    op.f = r.op;
    // The workload's INCR adds 1; a PUT's record carries the value it wrote, not the reply.
    if (r.op == "PUT") op.input = r.value;
    if (r.op == "INCR") op.input = kIncrAmount;
    if (r.op != "PUT") op.output = r.value;
    op.absent = r.absent;
    op.outcome = r.outcome == OpOutcome::kOk     ? lin::Outcome::kOk
                 : r.outcome == OpOutcome::kFail ? lin::Outcome::kFail
                                                 : lin::Outcome::kUnknown;
    op.invoke_us = r.invoke_us;
    op.complete_us = r.complete_us;
    ops.push_back(std::move(op));
  }
  return lin::Check(lin::ModelKind::kDuplexKv, ops, options);
}

}  // namespace duplex
