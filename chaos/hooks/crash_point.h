// Crash points: a coordinator killed between persisting a decision and carrying it out
// (a "torn" kill), for the chaos harness. A RecordStore decorator that the coordinator's
// wiring (cli/main.cc, --crash-point-file) wraps around the record store; the coordinator
// itself sees only a RecordStore. Runs on the coordinator's loop thread, as the store does.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "upgrade_coordinator/arbiter_types.h"

namespace duplex {

// While `control_file` exists it reads "<what> <n>": the process exits right after the
// n-th durable write of that kind from now on, before acting on it. <what> is `any` (any
// write: the record or the campaign), `reload` (a record that changes a replica's
// assigned version), `epoch` (a record that raises the epoch: a promotion, written before
// the replica is told) or `finalize` (a record that raises the cluster version, written
// before the replicas turn the new features on). The file is removed before the exit, so
// the restarted coordinator runs on.
std::unique_ptr<RecordStore> WithCrashPoint(std::unique_ptr<RecordStore> store,
                                            std::string control_file);
// Whether `what` names a kind of write: any, reload, epoch or finalize.
bool IsCrashPointKind(const std::string& what);
// What WithCrashPoint reads; ok() when `text` is well formed (the chaos harness checks).
Status ParseCrashPoint(const std::string& text, std::string* what, int* n);

}  // namespace duplex
