#include "replica/internal/schema_conversion.h"

#include "common/assert.h"

namespace duplex {

StatusOr<std::vector<Delta>> ConvertDeltas(const ConverterRegistry& converters,
                                           std::vector<Delta> deltas, uint32_t to) {
  for (Delta& d : deltas) {
    if (d.schema == to) continue;
    auto converted = converters.Convert(d.mutations, d.schema, to);
    if (!converted.ok()) {
      return Status(converted.status().code(),
                    "delta " + std::to_string(d.seq) + ": " + converted.status().message());
    }
    // A converter maps entries one to one: a delta keeps its size, its seq and its session.
    DUPLEX_ASSERT(converted->size() == d.mutations.size(), "delta", d.seq, "from", d.schema, "to",
                  to);
    d.mutations = std::move(converted).value();
    d.schema = to;
  }
  return deltas;
}

StatusOr<std::vector<Mutation>> ConvertEntries(const ConverterRegistry& converters,
                                               std::vector<Mutation> entries, uint32_t from,
                                               uint32_t to) {
  if (from == to) return entries;
  return converters.Convert(entries, from, to);
}

}  // namespace duplex
