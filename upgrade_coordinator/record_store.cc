#include "upgrade_coordinator/record_store.h"

#include <rocksdb/db.h>

#include <nlohmann/json.hpp>

#include "common/assert.h"

namespace duplex {
namespace {

constexpr const char* kRecordKey = "cluster_record";

class RocksRecordStore final : public RecordStore {
 public:
  explicit RocksRecordStore(std::unique_ptr<rocksdb::DB> db) : db_(std::move(db)) {
    DUPLEX_ASSERT(db_ != nullptr, "a record store over an open database");
  }

  StatusOr<std::optional<ClusterRecord>> Load() override {
    std::string value;
    auto s = db_->Get(rocksdb::ReadOptions(), kRecordKey, &value);
    if (s.IsNotFound()) return std::optional<ClusterRecord>();
    if (!s.ok()) return IOError("read cluster record: " + s.ToString());
    auto record = RecordFromJson(value);
    if (!record.ok()) return record.status();
    return std::optional<ClusterRecord>(std::move(record).value());
  }

  Status Save(const ClusterRecord& record) override {
    std::string text = RecordToJson(record);
    // What is stored must read back as the same record, or a restart would decide on
    // another one.
    auto again = RecordFromJson(text);
    DUPLEX_ASSERT(again.ok() && *again == record, "the record reads back as written", text);
    return Put(kRecordKey, text);
  }

  StatusOr<std::optional<std::string>> Get(const std::string& key) override {
    std::string value;
    auto s = db_->Get(rocksdb::ReadOptions(), key, &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return IOError("read " + key + ": " + s.ToString());
    return std::optional<std::string>(std::move(value));
  }

  Status Put(const std::string& key, const std::string& value) override {
    DUPLEX_ASSERT(!key.empty(), "a document has a key", value.size());
    rocksdb::WriteOptions wo;
    wo.sync = true;
    auto s = db_->Put(wo, key, value);
    if (!s.ok()) return IOError("write " + key + ": " + s.ToString());
    return Status::Ok();
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace

std::string RecordToJson(const ClusterRecord& r) {
  nlohmann::json j = {{"epoch", r.epoch},
                      {"active", r.active},
                      {"last_active", r.last_active},
                      {"in_sync", r.in_sync},
                      {"solo_grant_id", r.solo_grant_id},
                      {"sync_id", r.sync_id},
                      {"skip_lease_wait", r.skip_lease_wait},
                      {"failed", r.failed},
                      {"cluster_version", r.cluster_version},
                      {"replica_version", r.replica_version},
                      {"isolated", r.isolated},
                      {"lock", r.lock}};
  return j.dump();
}

StatusOr<ClusterRecord> RecordFromJson(const std::string& text) {
  try {
    auto j = nlohmann::json::parse(text);
    ClusterRecord r;
    r.epoch = j.at("epoch").get<uint64_t>();
    r.active = j.at("active").get<std::string>();
    r.last_active = j.at("last_active").get<std::string>();
    r.in_sync = j.at("in_sync").get<std::map<std::string, bool>>();
    r.solo_grant_id = j.at("solo_grant_id").get<uint64_t>();
    r.sync_id = j.at("sync_id").get<uint64_t>();
    r.skip_lease_wait = j.at("skip_lease_wait").get<bool>();
    r.failed = j.at("failed").get<std::map<std::string, bool>>();
    // Fields added later: absent in older records.
    r.cluster_version = j.value("cluster_version", std::string());
    r.replica_version = j.value("replica_version", std::map<std::string, std::string>());
    r.isolated = j.value("isolated", std::map<std::string, bool>());
    r.lock = j.value("lock", false);
    return r;
  } catch (const std::exception& e) {
    return Corruption(std::string("cluster record: ") + e.what());
  }
}

StatusOr<std::unique_ptr<RecordStore>> OpenRecordStore(const std::string& path, rocksdb::Env* env) {
  rocksdb::Options options;
  options.create_if_missing = true;
  if (env != nullptr) options.env = env;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(options, path, &raw);
  if (!s.ok()) return IOError("open coordinator store " + path + ": " + s.ToString());
  DUPLEX_ASSERT(raw != nullptr, "an opened database", path);
  return std::unique_ptr<RecordStore>(
      std::make_unique<RocksRecordStore>(std::unique_ptr<rocksdb::DB>(raw)));
}

}  // namespace duplex
