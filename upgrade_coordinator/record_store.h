// The coordinator's durable cluster record in its own RocksDB (synced writes).
// Owned by the coordinator's event loop; not thread-safe. A decorator may wrap it
// (the chaos hooks' crash points, chaos/hooks/crash_point.h).
#pragma once

#include <memory>
#include <string>

#include "upgrade_coordinator/arbiter_types.h"

namespace rocksdb {
class Env;
}

namespace duplex {

// env: the seam for storage faults (chaos/hooks/fault_fs.h); null = the default.
StatusOr<std::unique_ptr<RecordStore>> OpenRecordStore(const std::string& path,
                                                       rocksdb::Env* env = nullptr);

// JSON form, also used by `duplex status --json`.
std::string RecordToJson(const ClusterRecord& record);
StatusOr<ClusterRecord> RecordFromJson(const std::string& text);

}  // namespace duplex
