// The simulated coordinator machine's durable record (the cluster record and the
// campaign's document), kept in memory across coordinator restarts; counts its writes so
// a torn restart can strike between persisting a decision and acting on it. Its disk can
// fill up: writes then fail and change nothing. Owned by the simulated Coordinator;
// single-threaded.
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
    if (full_) return NoSpace("cluster record");
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
    if (full_) return NoSpace(key);
    docs_[key] = value;
    ++writes_;
    return Status::Ok();
  }
  uint64_t writes() const { return writes_; }
  // The disk full (writes fail) or not.
  void SetFull(bool full) { full_ = full; }
  bool full() const { return full_; }

 private:
  static Status NoSpace(const std::string& what) {
    return IOError("write " + what + ": No space left on device (simulated)");
  }
  bool full_ = false;
  uint64_t writes_ = 0;
  std::optional<ClusterRecord> record_;
  std::map<std::string, std::string> docs_;
};

}  // namespace duplex::sim
