#include "chaos/sim/fenced_store.h"

namespace duplex::sim {

Status FencedStore::Call(const std::string& what, const std::function<void()>& call) {
  if (!network_.Reaches(node_, kEtcdNode)) {
    return Unavailable("etcd: " + what + " timed out (etcd unreachable from " + node_ + ")");
  }
  if (!etcd_.available()) return Unavailable("etcd: " + what + " timed out (no quorum)");
  call();
  if (!network_.Reaches(kEtcdNode, node_)) {
    return Unavailable("etcd: " + what + " timed out (its answer was lost)");
  }
  return Status::Ok();
}

StatusOr<std::optional<std::string>> FencedStore::Read(const std::string& key) {
  std::optional<EtcdKeyValue> kv;
  Status s = Call("range " + key, [&] { kv = etcd_.Range(key); });
  if (!s.ok()) return s;
  if (!kv) return std::optional<std::string>();
  return std::optional<std::string>(kv->value);
}

Status FencedStore::Write(const std::string& key, const std::string& value) {
  ++writes_;
  EtcdCompare fence;
  fence.key = std::string(kEtcdPrefix) + "/leader";
  fence.create_revision = static_cast<int64_t>(term_);
  EtcdOp put;
  put.kind = EtcdOp::Kind::kPut;
  put.key = key;
  put.value = value;
  EtcdTxnResult result;
  Status s = Call("txn " + key, [&] { result = etcd_.Txn({fence}, {put}, {}); });
  if (!s.ok()) return s;
  if (!result.succeeded) {
    return Unavailable("leadership lost: the leader key is no longer term " +
                       std::to_string(term_));
  }
  return Status::Ok();
}

StatusOr<std::optional<ClusterRecord>> FencedStore::Load() {
  auto text = Read(std::string(kEtcdPrefix) + "/record");
  if (!text.ok()) return text.status();
  if (!text->has_value()) return std::optional<ClusterRecord>();
  auto record = RecordFromJson(**text);
  if (!record.ok()) return record.status();
  return std::optional<ClusterRecord>(*record);
}

Status FencedStore::Save(const ClusterRecord& record) {
  return Write(std::string(kEtcdPrefix) + "/record", RecordToJson(record));
}

StatusOr<std::optional<std::string>> FencedStore::Get(const std::string& key) {
  return Read(std::string(kEtcdPrefix) + "/doc/" + key);
}

Status FencedStore::Put(const std::string& key, const std::string& value) {
  return Write(std::string(kEtcdPrefix) + "/doc/" + key, value);
}

}  // namespace duplex::sim
