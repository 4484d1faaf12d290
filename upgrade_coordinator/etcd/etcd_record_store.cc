#include "upgrade_coordinator/etcd/etcd_record_store.h"

#include <utility>

#include "common/assert.h"
#include "upgrade_coordinator/record_store.h"

namespace duplex {

EtcdRecordStore::EtcdRecordStore(std::unique_ptr<EtcdClient> client, std::string prefix,
                                 uint64_t term)
    : client_(std::move(client)),
      prefix_(std::move(prefix)),
      leader_key_(prefix_ + "/leader"),
      term_(term) {
  DUPLEX_ASSERT(client_ != nullptr, "a record store needs a client");
}

bool IsLeadershipLost(const Status& status) {
  return status.code() == Code::kFailedPrecondition &&
         status.message().rfind(kLeadershipLost, 0) == 0;
}

StatusOr<std::optional<std::string>> EtcdRecordStore::Read(const std::string& key) {
  StatusOr<EtcdRangeResult> range = client_->Range(key);
  if (!range.ok())
    return Status(range.status().code(), "read " + key + ": " + range.status().message());
  if (range->kvs.empty()) return std::optional<std::string>();
  return std::optional<std::string>(std::move(range->kvs.front().value));
}

Status EtcdRecordStore::FencedPut(const std::string& key, const std::string& value) {
  if (term_ == 0) {
    // A compare on create_revision 0 would hold while nobody leads: never send it.
    return FailedPrecondition(std::string(kLeadershipLost) + " write " + key +
                              " refused: this coordinator does not lead (term 0)");
  }
  EtcdTxn txn;
  txn.compares.push_back(
      {EtcdCompare::Target::kCreateRevision, leader_key_, static_cast<int64_t>(term_), ""});
  txn.success.push_back({EtcdOp::Kind::kPut, key, value, 0, false});
  txn.failure.push_back({EtcdOp::Kind::kRange, leader_key_, "", 0, false});
  StatusOr<EtcdTxnResult> result = client_->Txn(txn);
  if (!result.ok()) {
    return Status(result.status().code(), "write " + key + ": " + result.status().message());
  }
  if (result->succeeded) return Status::Ok();
  // Say who holds the key now, for the log of the coordinator that just stepped down.
  std::string holder = "nobody holds " + leader_key_;
  if (!result->ranges.empty() && !result->ranges.front().empty()) {
    const EtcdKeyValue& leader = result->ranges.front().front();
    holder = leader_key_ + " is held by " + leader.value + " (term " +
             std::to_string(leader.create_revision) + ")";
  }
  return FailedPrecondition(std::string(kLeadershipLost) + " write " + key + " refused: our term " +
                            std::to_string(term_) + " is over; " + holder);
}

StatusOr<std::optional<ClusterRecord>> EtcdRecordStore::Load() {
  StatusOr<std::optional<std::string>> text = Read(prefix_ + "/record");
  if (!text.ok()) return text.status();
  if (!text->has_value()) return std::optional<ClusterRecord>();
  StatusOr<ClusterRecord> record = RecordFromJson(**text);
  if (!record.ok()) {
    return Status(record.status().code(),
                  "etcd " + prefix_ + "/record: " + record.status().message());
  }
  return std::optional<ClusterRecord>(std::move(record).value());
}

Status EtcdRecordStore::Save(const ClusterRecord& record) {
  std::string text = RecordToJson(record);
  // What is stored must read back as the same record, or the next leader would decide on
  // another one.
  auto again = RecordFromJson(text);
  DUPLEX_ASSERT(again.ok() && *again == record, "the record reads back as written", text);
  return FencedPut(prefix_ + "/record", text);
}

StatusOr<std::optional<std::string>> EtcdRecordStore::Get(const std::string& key) {
  DUPLEX_ASSERT(!key.empty(), "a document has a key");
  return Read(prefix_ + "/doc/" + key);
}

Status EtcdRecordStore::Put(const std::string& key, const std::string& value) {
  DUPLEX_ASSERT(!key.empty(), "a document has a key", value.size());
  return FencedPut(prefix_ + "/doc/" + key, value);
}

}  // namespace duplex
