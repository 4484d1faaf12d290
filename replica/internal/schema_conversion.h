// Conversion of replicated data between state schemas (during an upgrade the two replicas
// may speak different ones): deltas, and raw snapshot entries. Free functions over a
// ConverterRegistry; thread-safe as the registry is (read-only once built).
#pragma once

#include <cstdint>
#include <vector>

#include "state_sync/converter.h"
#include "state_sync/delta.h"

namespace duplex {

// Deltas converted each from its own schema to `to`; an error names the delta.
StatusOr<std::vector<Delta>> ConvertDeltas(const ConverterRegistry& converters,
                                           std::vector<Delta> deltas, uint32_t to);
// Application entries (keys without the store's prefix) converted from `from` to `to`.
StatusOr<std::vector<Mutation>> ConvertEntries(const ConverterRegistry& converters,
                                               std::vector<Mutation> entries, uint32_t from,
                                               uint32_t to);

}  // namespace duplex
