// EtcdRecordStore: the coordinator's durable record in etcd, fenced by its term. Keys:
// <prefix>/record (the ClusterRecord as JSON) and <prefix>/doc/<key> (Get/Put documents).
// Every write is a txn conditioned on create_revision(<prefix>/leader) == term, so a deposed
// leader writes nothing; reads are linearizable. Owned by the coordinator's event loop; not
// thread-safe (it owns its EtcdClient).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "upgrade_coordinator/arbiter_types.h"
#include "upgrade_coordinator/etcd/etcd_client.h"

namespace duplex {

// The start of the message of a write refused because the leader key is no longer ours.
inline constexpr const char* kLeadershipLost = "leadership lost:";

class EtcdRecordStore final : public RecordStore {
 public:
  // term: the leader key's create_revision while this coordinator holds it; 0 for a follower
  // that only reads (every write is refused as "leadership lost" without asking etcd).
  EtcdRecordStore(std::unique_ptr<EtcdClient> client, std::string prefix, uint64_t term);

  StatusOr<std::optional<ClusterRecord>> Load() override;
  // FailedPrecondition "leadership lost: ..." when the leader key changed hands (or is gone).
  Status Save(const ClusterRecord& record) override;
  StatusOr<std::optional<std::string>> Get(const std::string& key) override;
  Status Put(const std::string& key, const std::string& value) override;

  uint64_t term() const { return term_; }
  const std::string& leader_key() const { return leader_key_; }

 private:
  Status FencedPut(const std::string& key, const std::string& value);
  StatusOr<std::optional<std::string>> Read(const std::string& key);

  std::unique_ptr<EtcdClient> client_;
  std::string prefix_;
  std::string leader_key_;
  uint64_t term_;
};

// True when `status` is a fenced write refused because leadership was lost.
bool IsLeadershipLost(const Status& status);

}  // namespace duplex
