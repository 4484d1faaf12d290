// Corruption at rest, for the chaos harness: bits flipped in the RocksDB files of a replica
// that is not running (the scenario runner stops it and holds its agent meanwhile). Plain
// functions on a closed store's directory; called from the runner's thread.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace duplex {

// Flips `flips` bits, at offsets drawn from `seed`, in the store's SST files ("sst": its state
// is first written out to an SST, state_sync's FlushClosedStoreState, since a store killed
// under load holds it in the WAL alone), in its WAL files ("wal"), or in both (half each).
// The store must be closed. Returns what was flipped ("4 bit(s) in 000009.sst, 4 in
// 000004.log"); FailedPrecondition when there is no file of a kind asked for.
StatusOr<std::string> CorruptStoreFiles(const std::string& store_dir, const std::string& files,
                                        int flips, uint64_t seed);

// Whether the replica whose store is `store_dir` has found a corruption at rest since its
// directory was last corrupted here: its quarantine holds the reason (state_sync/
// store_quarantine.h), or held it until its resync completed.
bool CorruptionFound(const std::string& store_dir);

}  // namespace duplex
