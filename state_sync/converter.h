// Schema converters: an application registers, for each pair of adjacent state
// schemas, how to convert one stored entry up (n -> n+1) and down (n+1 -> n).
// Deltas, log tails and snapshots carry their schema; the replica runtime
// chains converters to bring them to the schema it (or its peer) speaks.
// Thread-compatible; built once at start.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include "common/status.h"
#include "state_sync/delta.h"

namespace duplex {

class ConverterRegistry {
 public:
  // Converts one entry of the replicated key space; an error names why it cannot.
  using EntryConverter = std::function<StatusOr<Mutation>(const Mutation&)>;

  void Register(uint32_t from, uint32_t to, EntryConverter converter);
  bool CanConvert(uint32_t from, uint32_t to) const;
  // Chains adjacent converters; from == to is the identity. Erasures pass unchanged.
  StatusOr<std::vector<Mutation>> Convert(const std::vector<Mutation>& entries, uint32_t from,
                                          uint32_t to) const;

 private:
  std::map<std::pair<uint32_t, uint32_t>, EntryConverter> converters_;
};

}  // namespace duplex
