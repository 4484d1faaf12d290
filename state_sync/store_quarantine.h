// Opening a replica's store that may be corrupt at rest. A store whose open finds
// corruption (a flipped bit in an SST or a WAL record, StoreOptions::verify_on_open) is
// moved aside into <path>/corrupt/, with what was found in corrupt/REASON, and a fresh
// store is opened in its place, marked incomplete: it holds no state, cannot serve or be
// promoted, and asks its peer for a full snapshot. It keeps the old store's epoch fence when a
// checksum-verified copy of it can be read (SalvageMeta). Called once, by the replica daemon before
// its event loop starts; not thread-safe.
#pragma once

#include <memory>
#include <set>
#include <string>

#include "common/status.h"
#include "state_sync/store.h"

namespace duplex {

struct OpenedStore {
  std::unique_ptr<Store> store;
  // What was found corrupt at rest, while the store still waits for its full resync: now,
  // or at an earlier start whose resync has not completed (read back from corrupt/REASON).
  // "" when the store's state is its own.
  std::string corrupt;
};

// The directory the corrupt files are moved to (the last corruption found; replaced by the
// next one).
std::string QuarantineDirOf(const std::string& path);

// Store::Open; on a Corruption, quarantines every file of `options.path` but those named in
// `keep` (the process's pid lock) and opens a fresh store marked incomplete. Any other error
// is returned as it is: a disk that fails to read is not proof that the data is bad.
StatusOr<OpenedStore> OpenOrQuarantine(const StoreOptions& options,
                                       const std::set<std::string>& keep);

}  // namespace duplex
