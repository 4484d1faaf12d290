// The simulated coordinator machine's durable record (the cluster record and the
// campaign's document), kept in memory across coordinator restarts; counts its writes so
// a torn restart can strike between persisting a decision and acting on it. Owned by
// the simulated Coordinator; single-threaded.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "upgrade_coordinator/record_store.h"

namespace duplex::sim {

class MemoryRecordStore final : public RecordStore {
 public:
  StatusOr<std::optional<ClusterRecord>> Load() override { return record_; }
  Status Save(const ClusterRecord& record) override {
    record_ = record;
    ++writes_;
    return Status::Ok();
  }
  StatusOr<std::optional<std::string>> Get(const std::string& key) override {
    auto it = docs_.find(key);
    if (it == docs_.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  Status Put(const std::string& key, const std::string& value) override {
    docs_[key] = value;
    ++writes_;
    return Status::Ok();
  }
  uint64_t writes() const { return writes_; }

 private:
  uint64_t writes_ = 0;
  std::optional<ClusterRecord> record_;
  std::map<std::string, std::string> docs_;
};

}  // namespace duplex::sim
