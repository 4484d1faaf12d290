#include "examples/kv/kv_record.h"

#include <limits>

namespace duplex::kv {
namespace {

std::string Quoted(std::string_view key) { return "\"" + std::string(key) + "\""; }

}  // namespace

std::string EncodeRecord(const Record& record) {
  std::string out;
  out.reserve(kRecordHeaderBytes + record.value.size());
  out.push_back(static_cast<char>(kRecordTag));
  const auto expires = static_cast<uint64_t>(record.expires_at_ms);
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((expires >> shift) & 0xff));
  }
  out += record.value;
  return out;
}

StatusOr<Record> DecodeRecord(std::string_view key, std::string_view bytes) {
  if (bytes.size() < kRecordHeaderBytes) {
    return Corruption(
        "record of " + Quoted(key) + " is malformed: " + std::to_string(bytes.size()) +
        " bytes, a schema-2 record has at least " + std::to_string(kRecordHeaderBytes));
  }
  if (static_cast<uint8_t>(bytes[0]) != kRecordTag) {
    return Corruption("record of " + Quoted(key) + " is malformed: tag " +
                      std::to_string(static_cast<uint8_t>(bytes[0])) + ", expected " +
                      std::to_string(kRecordTag));
  }
  uint64_t expires = 0;
  for (size_t i = 1; i < kRecordHeaderBytes; ++i) {
    expires = (expires << 8) | static_cast<uint8_t>(bytes[i]);
  }
  if (expires > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return Corruption("record of " + Quoted(key) + " is malformed: expiry out of range");
  }
  return Record{static_cast<int64_t>(expires), std::string(bytes.substr(kRecordHeaderBytes))};
}

StatusOr<Mutation> UpgradeEntry(const Mutation& entry) {
  return Mutation{entry.key, EncodeRecord({0, entry.value}), entry.erase};
}

StatusOr<Mutation> DowngradeEntry(const Mutation& entry) {
  auto record = DecodeRecord(entry.key, entry.value);
  if (!record.ok()) return record.status();
  if (record->expires_at_ms != 0) {
    return FailedPrecondition(Quoted(entry.key) + " has an expiry, which kv 1.x cannot store");
  }
  return Mutation{entry.key, std::move(record->value), entry.erase};
}

void RegisterKvConverters(ConverterRegistry& registry) {
  registry.Register(1, 2, UpgradeEntry);
  registry.Register(2, 1, DowngradeEntry);
}

}  // namespace duplex::kv
