// The coordinator's durable cluster record in its own RocksDB (synced writes).
// Owned by the coordinator's event loop; not thread-safe.
#pragma once

#include <memory>
#include <string>

#include "upgrade_coordinator/arbiter_types.h"

namespace duplex {

StatusOr<std::unique_ptr<RecordStore>> OpenRecordStore(const std::string& path);

// Chaos testing: a coordinator killed between persisting a decision and carrying it out
// (a "torn" kill). While `control_file` exists it reads "<what> <n>": the process exits
// right after the n-th durable write of that kind from now on, before acting on it.
// <what> is `any` (any write: the record or the campaign) or `reload` (a record that
// changes a replica's assigned version). The file is removed before the exit, so the
// restarted coordinator runs on.
std::unique_ptr<RecordStore> WithCrashPoint(std::unique_ptr<RecordStore> store,
                                            std::string control_file);
// What WithCrashPoint reads; ok() when `text` is well formed (the chaos harness checks).
Status ParseCrashPoint(const std::string& text, std::string* what, int* n);

// JSON form, also used by `duplex status --json`.
std::string RecordToJson(const ClusterRecord& record);
StatusOr<ClusterRecord> RecordFromJson(const std::string& text);

}  // namespace duplex
