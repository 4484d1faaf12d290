#include "state_sync/converter.h"

namespace duplex {

void ConverterRegistry::Register(uint32_t from, uint32_t to, EntryConverter converter) {
  DUPLEX_ASSERT(from + 1 == to || to + 1 == from, "converters join adjacent schemas", from, to);
  DUPLEX_ASSERT(from >= 1 && to >= 1, "state schemas are numbered from 1", from, to);
  DUPLEX_ASSERT(static_cast<bool>(converter), "a registered converter can be called", from, to);
  converters_[{from, to}] = std::move(converter);
}

bool ConverterRegistry::CanConvert(uint32_t from, uint32_t to) const {
  for (uint32_t s = from; s != to; s = s < to ? s + 1 : s - 1) {
    if (!converters_.count({s, s < to ? s + 1 : s - 1})) return false;
  }
  return true;
}

StatusOr<std::vector<Mutation>> ConverterRegistry::Convert(const std::vector<Mutation>& entries,
                                                           uint32_t from, uint32_t to) const {
  std::vector<Mutation> current = entries;
  for (uint32_t s = from; s != to; s = s < to ? s + 1 : s - 1) {
    uint32_t next = s < to ? s + 1 : s - 1;
    DUPLEX_ASSERT(next + 1 == s || s + 1 == next, "a chain steps one schema at a time", s, next);
    auto it = converters_.find({s, next});
    if (it == converters_.end()) {
      return FailedPrecondition("no converter from state schema " + std::to_string(s) + " to " +
                                std::to_string(next));
    }
    for (Mutation& m : current) {
      if (m.erase) continue;
      auto converted = it->second(m);
      if (!converted.ok()) {
        return FailedPrecondition("schema " + std::to_string(s) + " -> " + std::to_string(next) +
                                  ": " + converted.status().message());
      }
      m = std::move(converted).value();
    }
    DUPLEX_ASSERT(current.size() == entries.size(), "a converter maps each entry to one entry",
                  current.size(), entries.size());
  }
  // Convert succeeds exactly along the chains CanConvert sees.
  DUPLEX_ASSERT(CanConvert(from, to), "converted along a chain CanConvert refuses", from, to);
  return current;
}

}  // namespace duplex
