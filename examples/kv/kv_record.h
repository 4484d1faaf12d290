// kv's stored records and the converters between its state schemas: schema 1
// stores a value as it is; schema 2 stores a tagged record carrying an expiry.
// Pure functions on bytes; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "state_sync/converter.h"
#include "state_sync/delta.h"

namespace duplex::kv {

inline constexpr uint8_t kRecordTag = 0x02;
inline constexpr size_t kRecordHeaderBytes = 9;  // the tag, then expires_at_ms

// A schema-2 record: 1 byte kRecordTag, expires_at_ms as 8 bytes big-endian
// (0 = never expires), then the value.
struct Record {
  int64_t expires_at_ms = 0;
  std::string value;

  bool ExpiredAt(int64_t now_ms) const { return expires_at_ms != 0 && expires_at_ms <= now_ms; }
  bool operator==(const Record&) const = default;
};

std::string EncodeRecord(const Record& record);
// Corruption naming the key when the bytes are not a schema-2 record.
StatusOr<Record> DecodeRecord(std::string_view key, std::string_view bytes);

// Entry converters. Up: a raw value becomes a record that never expires. Down: a
// record that never expires becomes its raw value; one with an expiry cannot be
// stored by kv 1.x and is refused, naming the key.
StatusOr<Mutation> UpgradeEntry(const Mutation& entry);
StatusOr<Mutation> DowngradeEntry(const Mutation& entry);

// Registers 1 -> 2 and 2 -> 1; every kv version does, whatever its own schema.
void RegisterKvConverters(ConverterRegistry& registry);

}  // namespace duplex::kv
