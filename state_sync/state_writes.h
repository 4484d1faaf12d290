// StateWrites: the writes one append makes to the store's state (each delta's mutations and its
// client's session entry), in key order, so that RocksDB's memtable inserts them from the
// previous insert's place in its skiplist (the state column family's insert hint) instead of
// from the top. Built and consumed by the store's Append on the caller's thread; a pure value.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "state_sync/delta.h"

namespace duplex {

struct StateWrite {
  std::string key;         // AppKey or SessionKey
  std::string_view value;  // into the delta's mutation or StateWrites::sessions
  bool erase = false;
};

struct StateWrites {
  // Key order; the writes of one key stay in delta order (the last one wins in RocksDB, as it
  // would have in delta order: the state after the batch is the same).
  std::vector<StateWrite> writes;
  std::vector<std::string> sessions;  // the encoded session entries the writes point into
};

// The state writes of `deltas`, which must outlive the result (values point into them).
StateWrites SortedStateWrites(const std::vector<Delta>& deltas);

}  // namespace duplex
