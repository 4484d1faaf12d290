#include "upgrade_coordinator/record_store.h"

#include <rocksdb/db.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/assert.h"
#include "common/files.h"

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

class CrashPointRecordStore final : public RecordStore {
 public:
  CrashPointRecordStore(std::unique_ptr<RecordStore> inner, std::string control_file)
      : inner_(std::move(inner)), file_(std::move(control_file)) {
    DUPLEX_ASSERT(inner_ != nullptr && !file_.empty(), "a crash point wraps a store", file_);
  }

  StatusOr<std::optional<ClusterRecord>> Load() override {
    auto loaded = inner_->Load();
    if (loaded.ok()) last_ = *loaded;
    return loaded;
  }
  Status Save(const ClusterRecord& record) override {
    bool reload =
        last_ ? last_->replica_version != record.replica_version : !record.replica_version.empty();
    Status s = inner_->Save(record);
    if (!s.ok()) return s;
    last_ = record;
    AfterWrite(reload);
    return s;
  }
  StatusOr<std::optional<std::string>> Get(const std::string& key) override {
    return inner_->Get(key);
  }
  Status Put(const std::string& key, const std::string& value) override {
    Status s = inner_->Put(key, value);
    if (s.ok()) AfterWrite(false);
    return s;
  }

 private:
  void AfterWrite(bool reload) {
    std::ifstream in(file_);
    if (!in) return;  // not armed
    std::stringstream text;
    text << in.rdbuf();
    std::string what;
    int n = 0;
    Status parsed = ParseCrashPoint(text.str(), &what, &n);
    if (!parsed.ok()) {
      spdlog::error("crash point {}: {}", file_, parsed.ToString());
      return;
    }
    DUPLEX_ASSERT(n >= 1 && (what == "any" || what == "reload"), "a parsed crash point", what, n);
    if (what == "reload" && !reload) return;
    if (n > 1) {
      (void)WriteFileAtomically(file_, what + " " + std::to_string(n - 1) + "\n");
      return;
    }
    std::error_code ec;
    std::filesystem::remove(file_, ec);
    spdlog::warn("crash point: exiting right after a durable write ({}), before acting on it",
                 what);
    std::fflush(nullptr);
    ::_exit(137);
  }

  std::unique_ptr<RecordStore> inner_;
  std::string file_;
  std::optional<ClusterRecord> last_;
};

}  // namespace

std::unique_ptr<RecordStore> WithCrashPoint(std::unique_ptr<RecordStore> store,
                                            std::string control_file) {
  return std::make_unique<CrashPointRecordStore>(std::move(store), std::move(control_file));
}

Status ParseCrashPoint(const std::string& text, std::string* what, int* n) {
  std::istringstream in(text);
  *n = 1;
  if (!(in >> *what) || (*what != "any" && *what != "reload")) {
    return InvalidArgument("crash point \"" + text + "\": expected any or reload, then a count");
  }
  std::string count;
  if (in >> count) {
    try {
      size_t used = 0;
      *n = std::stoi(count, &used);
      if (used != count.size() || *n < 1) throw std::invalid_argument(count);
    } catch (const std::exception&) {
      return InvalidArgument("crash point \"" + text + "\": the count must be a number >= 1");
    }
  }
  DUPLEX_ASSERT(*n >= 1, "a crash point counts from one", *n);
  return Status::Ok();
}

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

StatusOr<std::unique_ptr<RecordStore>> OpenRecordStore(const std::string& path) {
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(options, path, &raw);
  if (!s.ok()) return IOError("open coordinator store " + path + ": " + s.ToString());
  DUPLEX_ASSERT(raw != nullptr, "an opened database", path);
  return std::unique_ptr<RecordStore>(
      std::make_unique<RocksRecordStore>(std::unique_ptr<rocksdb::DB>(raw)));
}

}  // namespace duplex
