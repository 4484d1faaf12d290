#include "state_sync/store.h"

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include <cstdarg>

#include "common/assert.h"
#include "state_sync/wire_codec.h"

namespace duplex {
namespace {

constexpr char kAppPrefix = 'a';
constexpr char kSessionPrefix = 's';
constexpr uint64_t kTruncateEvery = 1024;  // log truncation granularity (fewer tombstones)

std::string Be64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) out[i] = static_cast<char>(v & 0xff);
  return out;
}

uint64_t FromBe64(std::string_view s) {
  uint64_t v = 0;
  for (char c : s) v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

// The metadata is one value, written with every commit (one memtable insert, not one per
// field): a format byte, then epoch, applied_epoch, applied_seq, schema, oldest_log_seq and
// snapshot_incomplete as 8 big-endian bytes each, then the cluster version.
constexpr char kMetaKey[] = "meta";
constexpr char kMetaFormat = 1;
constexpr size_t kMetaFixedBytes = 1 + 6 * 8;

}  // namespace

std::string EncodeMeta(const StoreMeta& m) {
  std::string out(1, kMetaFormat);
  out.reserve(kMetaFixedBytes + m.cluster_version.size());
  for (uint64_t v : {m.epoch, m.applied_epoch, m.applied_seq, uint64_t{m.schema}, m.oldest_log_seq,
                     uint64_t{m.snapshot_incomplete}}) {
    out += Be64(v);
  }
  out += m.cluster_version;
  return out;
}

StatusOr<StoreMeta> DecodeMeta(std::string_view v) {
  if (v.size() < kMetaFixedBytes) {
    return Corruption("store meta: " + std::to_string(v.size()) + " bytes, expected at least " +
                      std::to_string(kMetaFixedBytes));
  }
  if (v[0] != kMetaFormat) {
    return Corruption("store meta: unknown format " + std::to_string(static_cast<uint8_t>(v[0])) +
                      " (this build reads format " + std::to_string(int{kMetaFormat}) + ")");
  }
  auto field = [&](int i) { return FromBe64(v.substr(1 + 8 * static_cast<size_t>(i), 8)); };
  StoreMeta m;
  m.epoch = field(0);
  m.applied_epoch = field(1);
  m.applied_seq = field(2);
  m.schema = static_cast<uint32_t>(field(3));
  m.oldest_log_seq = field(4);
  m.snapshot_incomplete = field(5) != 0;
  m.cluster_version = std::string(v.substr(kMetaFixedBytes));
  return m;
}

namespace {

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsCorruption()) return Corruption(what + ": " + s.ToString());
  return IOError(what + ": " + s.ToString());
}

// What every stored metadata value satisfies: checked before it is written and after it is
// read, so that a bug in one commit is caught there and not replicas later.
void CheckMeta(const StoreMeta& m) {
  DUPLEX_ASSERT(m.applied_epoch <= m.epoch, "no delta is of an epoch beyond the fence",
                m.applied_epoch, m.epoch);
  DUPLEX_ASSERT(m.oldest_log_seq >= 1, "the log's seqs start at 1", m.oldest_log_seq);
  DUPLEX_ASSERT(!m.snapshot_incomplete || (m.applied_seq == 0 && m.applied_epoch == 0),
                "a half-installed snapshot has applied nothing", m.applied_seq, m.applied_epoch);
  DUPLEX_ASSERT(m.snapshot_incomplete || m.oldest_log_seq <= m.applied_seq + 1,
                "the log's start is at most one past the applied seq", m.oldest_log_seq,
                m.applied_seq);
  DUPLEX_ASSERT(m.schema >= 1, "schemas count from 1", m.schema);
}

class RocksSnapshotCursor final : public SnapshotCursor {
 public:
  RocksSnapshotCursor(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* state, const StoreMeta& meta)
      : db_(db), meta_(meta) {
    snapshot_ = db_->GetSnapshot();
    rocksdb::ReadOptions ro;
    ro.snapshot = snapshot_;
    it_.reset(db_->NewIterator(ro, state));
    it_->SeekToFirst();
  }
  ~RocksSnapshotCursor() override {
    it_.reset();
    db_->ReleaseSnapshot(snapshot_);
  }
  uint64_t epoch() const override { return meta_.applied_epoch; }
  uint64_t seq() const override { return meta_.applied_seq; }
  uint32_t schema() const override { return meta_.schema; }
  bool done() const override { return !it_->Valid(); }

  StatusOr<std::vector<Mutation>> Next(size_t bytes_max) override {
    std::vector<Mutation> out;
    size_t bytes = 0;
    for (; it_->Valid() && (out.empty() || bytes < bytes_max); it_->Next()) {
      DUPLEX_ASSERT(out.empty() || out.back().key < it_->key().ToStringView(),
                    "a snapshot reads in key order");
      out.push_back({it_->key().ToString(), it_->value().ToString(), false});
      bytes += it_->key().size() + it_->value().size();
    }
    DUPLEX_RETURN_IF_ERROR(FromRocks(it_->status(), "snapshot read"));
    return out;
  }

 private:
  rocksdb::DB* db_;
  StoreMeta meta_;  // the metadata at the snapshot point (the caller holds the event loop)
  const rocksdb::Snapshot* snapshot_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

class RocksStore final : public Store {
 public:
  RocksStore(const StoreOptions& options, std::unique_ptr<rocksdb::DB> db,
             std::vector<rocksdb::ColumnFamilyHandle*> handles)
      : options_(options), db_(std::move(db)), handles_(std::move(handles)) {
    write_options_.sync = options_.sync;
  }
  ~RocksStore() override {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  }

  Status LoadMeta() {
    std::string v;
    auto s = db_->Get(rocksdb::ReadOptions(), meta_cf(), kMetaKey, &v);
    if (s.IsNotFound()) {
      DUPLEX_RETURN_IF_ERROR(LoadLegacyMeta());
    } else {
      DUPLEX_RETURN_IF_ERROR(FromRocks(s, "read store meta"));
      auto meta = DecodeMeta(v);
      if (!meta.ok()) return meta.status();
      meta_ = std::move(meta).value();
    }
    CheckMeta(meta_);
    return CheckLastLogEntry();
  }

  // The applied seq and epoch are those of the log's last entry, when the log holds it
  // (they are written in one batch).
  Status CheckLastLogEntry() const {
    if (meta_.snapshot_incomplete || meta_.applied_seq < meta_.oldest_log_seq) return Status::Ok();
    auto v = GetRawCf(log_cf(), Be64(meta_.applied_seq));
    if (!v.ok()) return v.status();
    if (!v->has_value()) {
      return Corruption("delta log: the applied delta " + std::to_string(meta_.applied_seq) +
                        " is missing");
    }
    auto d = DecodeDelta(**v);
    if (!d.ok()) return d.status();
    DUPLEX_ASSERT(d->seq == meta_.applied_seq, "the log's last entry is the applied delta", d->seq,
                  meta_.applied_seq);
    DUPLEX_ASSERT(d->epoch == meta_.applied_epoch, "the applied epoch is the last delta's",
                  d->epoch, meta_.applied_epoch);
    return Status::Ok();
  }

  // Stores written before the metadata was one value kept each field under its own key
  // (none of them: a new store). The next commit writes the single value, which wins.
  Status LoadLegacyMeta() {
    auto read = [&](const char* key, uint64_t& out) -> Status {
      std::string v;
      auto s = db_->Get(rocksdb::ReadOptions(), meta_cf(), key, &v);
      if (s.IsNotFound()) return Status::Ok();
      DUPLEX_RETURN_IF_ERROR(FromRocks(s, std::string("read meta ") + key));
      if (v.size() != 8) return Corruption(std::string("meta ") + key + ": bad length");
      out = FromBe64(v);
      return Status::Ok();
    };
    uint64_t schema = 1, incomplete = 0;
    DUPLEX_RETURN_IF_ERROR(read("epoch", meta_.epoch));
    DUPLEX_RETURN_IF_ERROR(read("applied_epoch", meta_.applied_epoch));
    DUPLEX_RETURN_IF_ERROR(read("applied_seq", meta_.applied_seq));
    DUPLEX_RETURN_IF_ERROR(read("schema", schema));
    DUPLEX_RETURN_IF_ERROR(read("oldest_log_seq", meta_.oldest_log_seq));
    DUPLEX_RETURN_IF_ERROR(read("snapshot_incomplete", incomplete));
    meta_.schema = static_cast<uint32_t>(schema);
    meta_.snapshot_incomplete = incomplete != 0;
    auto s = db_->Get(rocksdb::ReadOptions(), meta_cf(), "cluster_version", &meta_.cluster_version);
    if (!s.ok() && !s.IsNotFound()) return FromRocks(s, "read meta cluster_version");
    return Status::Ok();
  }

  const StoreMeta& meta() const override { return meta_; }

  // Every SST block's checksum (StoreOptions::verify_on_open says why).
  Status VerifyChecksums() const {
    return FromRocks(db_->VerifyChecksum(), "verify the checksums of " + options_.path);
  }

  StatusOr<std::optional<std::string>> Get(std::string_view key) const override {
    return GetRaw(AppKey(key));
  }

  StatusOr<std::optional<SessionEntry>> GetSession(uint64_t client_id) const override {
    auto raw = GetRaw(SessionKey(client_id));
    if (!raw.ok()) return raw.status();
    if (!raw->has_value()) return std::optional<SessionEntry>();
    auto entry = DecodeSession(**raw);
    if (!entry.ok()) return entry.status();
    return std::optional<SessionEntry>(std::move(entry).value());
  }

  StatusOr<std::vector<std::pair<uint64_t, SessionEntry>>> ListSessions(
      uint64_t after, size_t limit) const override {
    std::vector<std::pair<uint64_t, SessionEntry>> out;
    if (after == UINT64_MAX) return out;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), state_cf()));
    for (it->Seek(SessionKey(after + 1)); it->Valid() && out.size() < limit; it->Next()) {
      std::string_view key(it->key().data(), it->key().size());
      if (key.size() != 9 || key[0] != kSessionPrefix) break;
      uint64_t client_id = FromBe64(key.substr(1));
      DUPLEX_ASSERT(client_id > after, "sessions list after the given client", client_id, after);
      auto entry = DecodeSession(std::string_view(it->value().data(), it->value().size()));
      if (!entry.ok()) return entry.status();
      out.emplace_back(client_id, std::move(entry).value());
    }
    if (!it->status().ok()) return FromRocks(it->status(), "list sessions");
    return out;
  }

  Status Append(const std::vector<Delta>& deltas) override {
    if (deltas.empty()) return Status::Ok();
    CheckMeta(meta_);
    DUPLEX_RETURN_IF_ERROR(CheckContinues(deltas));
    rocksdb::WriteBatch batch;
    for (const Delta& d : deltas) {
      for (const Mutation& m : d.mutations) {
        if (m.erase) {
          batch.Delete(state_cf(), AppKey(m.key));
        } else {
          batch.Put(state_cf(), AppKey(m.key), m.value);
        }
      }
      if (d.client_id != 0 && d.session.request_seq == 0) {
        batch.Delete(state_cf(), SessionKey(d.client_id));  // expired
      } else if (d.client_id != 0) {
        SessionEntry entry = d.session;
        entry.used_epoch = d.epoch;
        batch.Put(state_cf(), SessionKey(d.client_id), EncodeSession(entry));
      }
      batch.Put(log_cf(), Be64(d.seq), EncodeDelta(d));
    }
    StoreMeta next = meta_;
    next.applied_seq = deltas.back().seq;
    next.applied_epoch = deltas.back().epoch;
    DUPLEX_ASSERT(next.applied_seq == meta_.applied_seq + deltas.size(),
                  "an append applies exactly its deltas", next.applied_seq, meta_.applied_seq,
                  deltas.size());
    DUPLEX_ASSERT(next.applied_epoch >= meta_.applied_epoch, "applied epochs never go back",
                  next.applied_epoch, meta_.applied_epoch);
    if (next.applied_seq >= next.oldest_log_seq + options_.log_retain_ops + kTruncateEvery) {
      uint64_t new_oldest = next.applied_seq - options_.log_retain_ops + 1;
      DUPLEX_ASSERT(new_oldest > next.oldest_log_seq && new_oldest <= next.applied_seq + 1,
                    "truncation moves the log's start forward, never past its end", new_oldest,
                    next.oldest_log_seq, next.applied_seq);
      batch.DeleteRange(log_cf(), Be64(next.oldest_log_seq), Be64(new_oldest));
      next.oldest_log_seq = new_oldest;
    }
    PutMeta(batch, next);
    DUPLEX_RETURN_IF_ERROR(FromRocks(db_->Write(write_options_, &batch), "append deltas"));
    meta_ = next;
    return Status::Ok();
  }

  Status AdoptEpoch(uint64_t epoch) override {
    if (epoch < meta_.epoch) {
      return {Code::kStaleEpoch, "epoch " + std::to_string(epoch) + " is below the fence " +
                                     std::to_string(meta_.epoch)};
    }
    if (epoch == meta_.epoch) return Status::Ok();
    StoreMeta next = meta_;
    next.epoch = epoch;
    DUPLEX_ASSERT(next.epoch > meta_.epoch, "the fence only rises", next.epoch, meta_.epoch);
    return CommitMeta(next, "adopt epoch");
  }

  Status SetSchema(uint32_t schema) override {
    // Stored state is in one schema: it changes by itself only while there is none (a
    // snapshot install brings its own).
    DUPLEX_ASSERT(meta_.applied_seq == 0 && !meta_.snapshot_incomplete,
                  "the schema of an empty state only", meta_.applied_seq, schema);
    StoreMeta next = meta_;
    next.schema = schema;
    return CommitMeta(next, "set schema");
  }

  Status SetClusterVersion(const std::string& version) override {
    StoreMeta next = meta_;
    next.cluster_version = version;
    return CommitMeta(next, "set cluster version");
  }

  StatusOr<std::vector<Delta>> ReadLog(uint64_t from_seq, size_t count_max) const override {
    if (from_seq < meta_.oldest_log_seq) {
      return NotFound("delta " + std::to_string(from_seq) + " is no longer in the log (oldest " +
                      std::to_string(meta_.oldest_log_seq) + ")");
    }
    std::vector<Delta> out;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), log_cf()));
    uint64_t expect = from_seq;
    for (it->Seek(Be64(from_seq)); it->Valid() && out.size() < count_max; it->Next(), ++expect) {
      auto d = DecodeDelta(it->value().ToStringView());
      if (!d.ok()) return d.status();
      if (d->seq != expect) return Corruption("delta log: expected seq " + std::to_string(expect));
      DUPLEX_ASSERT(d->seq <= meta_.applied_seq, "the log holds only applied deltas", d->seq,
                    meta_.applied_seq);
      DUPLEX_ASSERT(d->epoch <= meta_.applied_epoch, "no logged delta is newer than the last",
                    d->epoch, meta_.applied_epoch);
      out.push_back(std::move(d).value());
    }
    DUPLEX_RETURN_IF_ERROR(FromRocks(it->status(), "read log"));
    DUPLEX_ASSERT(out.size() <= count_max, "a read is bounded", out.size(), count_max);
    return out;
  }

  StatusOr<uint64_t> LogEpochAt(uint64_t seq) const override {
    if (seq == 0) return uint64_t{0};
    if (seq < meta_.oldest_log_seq || seq > meta_.applied_seq) {
      return NotFound("delta " + std::to_string(seq) + " is not in the log");
    }
    auto v = GetRawCf(log_cf(), Be64(seq));
    if (!v.ok()) return v.status();
    if (!v->has_value()) return NotFound("delta " + std::to_string(seq) + " is not in the log");
    auto d = DecodeDelta(**v);
    if (!d.ok()) return d.status();
    if (d->seq != seq)
      return Corruption("delta log: entry " + std::to_string(seq) + " is another's");
    DUPLEX_ASSERT(d->epoch <= meta_.applied_epoch, "no logged delta is newer than the last",
                  d->epoch, meta_.applied_epoch);
    return d->epoch;
  }

  std::unique_ptr<SnapshotCursor> OpenSnapshot() const override {
    return std::make_unique<RocksSnapshotCursor>(db_.get(), state_cf(), meta_);
  }

  Status BeginSnapshotInstall() override {
    rocksdb::WriteBatch batch;
    batch.DeleteRange(state_cf(), std::string(1, '\0'), std::string(8, '\xff'));
    batch.DeleteRange(log_cf(), Be64(0), Be64(UINT64_MAX));
    StoreMeta next = meta_;
    next.snapshot_incomplete = true;
    next.applied_seq = 0;
    next.applied_epoch = 0;
    DUPLEX_ASSERT(next.epoch == meta_.epoch, "an install keeps the fence", next.epoch);
    PutMeta(batch, next);
    DUPLEX_RETURN_IF_ERROR(FromRocks(db_->Write(write_options_, &batch), "begin snapshot"));
    meta_ = next;
    return Status::Ok();
  }

  Status InstallChunk(const std::vector<Mutation>& entries) override {
    if (!meta_.snapshot_incomplete) return FailedPrecondition("no snapshot install in progress");
    rocksdb::WriteBatch batch;
    for (const Mutation& m : entries) {
      if (m.key.empty() || (m.key[0] != kAppPrefix && m.key[0] != kSessionPrefix)) {
        return Corruption("snapshot entry with an unknown key prefix");
      }
      batch.Put(state_cf(), m.key, m.value);
    }
    // Not synced: FinishSnapshotInstall syncs, and until then the store is marked incomplete.
    rocksdb::WriteOptions wo;
    return FromRocks(db_->Write(wo, &batch), "install snapshot chunk");
  }

  Status FinishSnapshotInstall(uint64_t epoch, uint64_t seq, uint32_t schema) override {
    if (!meta_.snapshot_incomplete) return FailedPrecondition("no snapshot install in progress");
    StoreMeta next = meta_;
    next.snapshot_incomplete = false;
    next.applied_epoch = epoch;
    next.applied_seq = seq;
    next.oldest_log_seq = seq + 1;
    next.schema = schema;
    if (epoch > next.epoch) next.epoch = epoch;
    DUPLEX_ASSERT(next.epoch >= meta_.epoch, "an install never lowers the fence", next.epoch,
                  meta_.epoch);
    DUPLEX_ASSERT(meta_.applied_seq == 0, "chunks install on a wiped state", meta_.applied_seq);
    return CommitMeta(next, "finish snapshot");
  }

  Status Checkpoint(const std::string& dir) const override {
    rocksdb::Checkpoint* raw = nullptr;
    DUPLEX_RETURN_IF_ERROR(FromRocks(rocksdb::Checkpoint::Create(db_.get(), &raw), "checkpoint"));
    std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
    return FromRocks(checkpoint->CreateCheckpoint(dir), "checkpoint into " + dir);
  }

  Status FlushAndCompact(bool compact) override {
    Status s = FromRocks(db_->Flush(rocksdb::FlushOptions(), handles_), "flush");
    for (auto* cf : handles_) {
      if (!s.ok() || !compact) break;
      s = FromRocks(db_->CompactRange(rocksdb::CompactRangeOptions(), cf, nullptr, nullptr),
                    "compact");
    }
    // A flush or compaction returns once its result is installed, while its job goes on to
    // delete the files it made obsolete: pausing waits for every background job to end.
    db_->PauseBackgroundWork();
    db_->ContinueBackgroundWork();
    return s;
  }

  StatusOr<StateDigest> Digest() const override {
    StateDigester digester;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), state_cf()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      digester.Add(it->key().ToStringView(), it->value().ToStringView());
    }
    DUPLEX_RETURN_IF_ERROR(FromRocks(it->status(), "digest"));
    return digester.Finish(meta_.applied_seq);
  }

 private:
  rocksdb::ColumnFamilyHandle* meta_cf() const { return handles_[0]; }
  rocksdb::ColumnFamilyHandle* state_cf() const { return handles_[1]; }
  rocksdb::ColumnFamilyHandle* log_cf() const { return handles_[2]; }

  StatusOr<std::optional<std::string>> GetRaw(const std::string& key) const {
    return GetRawCf(state_cf(), key);
  }

  StatusOr<std::optional<std::string>> GetRawCf(rocksdb::ColumnFamilyHandle* cf,
                                                const std::string& key) const {
    std::string value;
    auto s = db_->Get(rocksdb::ReadOptions(), cf, key, &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    DUPLEX_RETURN_IF_ERROR(FromRocks(s, "get"));
    return std::optional<std::string>(std::move(value));
  }

  Status CheckContinues(const std::vector<Delta>& deltas) const {
    if (meta_.snapshot_incomplete) return FailedPrecondition("snapshot install incomplete");
    uint64_t expect = meta_.applied_seq + 1;
    uint64_t epoch = meta_.applied_epoch;
    for (const Delta& d : deltas) {
      if (d.seq != expect) {
        return FailedPrecondition((d.seq < expect ? "duplicate delta " : "gap before delta ") +
                                  std::to_string(d.seq) + " (expected " + std::to_string(expect) +
                                  ")");
      }
      if (d.epoch < epoch || d.epoch > meta_.epoch) {
        return {Code::kStaleEpoch, "delta " + std::to_string(d.seq) + " has epoch " +
                                       std::to_string(d.epoch) + ", expected " +
                                       std::to_string(epoch) + ".." + std::to_string(meta_.epoch)};
      }
      epoch = d.epoch;
      ++expect;
    }
    return Status::Ok();
  }

  void PutMeta(rocksdb::WriteBatch& batch, const StoreMeta& m) {
    CheckMeta(m);
    DUPLEX_ASSERT(m.epoch >= meta_.epoch, "the fence never goes down", m.epoch, meta_.epoch);
    DUPLEX_ASSERT(m.snapshot_incomplete || m.oldest_log_seq >= meta_.oldest_log_seq ||
                      meta_.snapshot_incomplete,
                  "the log's start only moves forward, but for a snapshot install",
                  m.oldest_log_seq, meta_.oldest_log_seq);
    batch.Put(meta_cf(), kMetaKey, EncodeMeta(m));
  }

  Status CommitMeta(const StoreMeta& next, const char* what) {
    rocksdb::WriteBatch batch;
    PutMeta(batch, next);
    rocksdb::WriteOptions wo;
    wo.sync = true;  // fences and snapshot completion are always durable
    DUPLEX_RETURN_IF_ERROR(FromRocks(db_->Write(wo, &batch), what));
    meta_ = next;
    return Status::Ok();
  }

  StoreOptions options_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::WriteOptions write_options_;
  StoreMeta meta_;
};

}  // namespace

std::string AppKey(std::string_view key) {
  std::string out(1, kAppPrefix);
  out.append(key);
  return out;
}

std::string SessionKey(uint64_t client_id) {
  return std::string(1, kSessionPrefix) + Be64(client_id);
}

namespace {

// Where a store without an info LOG (StoreOptions::info_log) logs: nowhere, unformatted.
class NullLogger final : public rocksdb::Logger {
 public:
  NullLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::FATAL_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* /*format*/, va_list /*args*/) override {}
};

}  // namespace

StatusOr<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  // Corruption at rest must stop the open, never be recovered around: paranoid checks make
  // any inconsistency RocksDB finds an error, and the WAL mode tolerates only a torn last
  // record (a write whose fsync never returned, so never acknowledged). The default,
  // point-in-time recovery, would stop replaying at a flipped bit and open without every
  // record after it: acknowledged writes gone, and a metadata record that agrees.
  db_options.paranoid_checks = true;
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  if (options.env != nullptr) db_options.env = options.env;
  if (!options.info_log) db_options.info_log = std::make_shared<NullLogger>();
  db_options.max_file_opening_threads = options.file_opening_threads_max;
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.write_buffer_size = options.memtable_bytes;  // why small: StoreOptions
  cf_options.max_write_buffer_number = 4;
  cf_options.disable_auto_compactions = !options.auto_compaction;
  if (!options.compress) cf_options.compression = rocksdb::kNoCompression;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {rocksdb::kDefaultColumnFamilyName, cf_options}, {"state", cf_options}, {"log", cf_options}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(db_options, options.path, cfs, &handles, &raw);
  DUPLEX_RETURN_IF_ERROR(FromRocks(s, "open store " + options.path));
  auto store =
      std::make_unique<RocksStore>(options, std::unique_ptr<rocksdb::DB>(raw), std::move(handles));
  if (options.verify_on_open) DUPLEX_RETURN_IF_ERROR(store->VerifyChecksums());
  DUPLEX_RETURN_IF_ERROR(store->LoadMeta());
  return std::unique_ptr<Store>(std::move(store));
}

Status FlushClosedStoreState(const std::string& path) {
  rocksdb::DBOptions db_options;
  db_options.avoid_flush_during_recovery = true;  // the WAL stays: only `state` is flushed
  db_options.paranoid_checks = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {rocksdb::kDefaultColumnFamilyName, {}}, {"state", {}}, {"log", {}}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  DUPLEX_RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(db_options, path, cfs, &handles, &raw),
                                   "open store " + path + " to flush it"));
  std::unique_ptr<rocksdb::DB> db(raw);
  DUPLEX_ASSERT(handles.size() == 3, "a store has three column families", handles.size());
  Status flushed = FromRocks(db->Flush(rocksdb::FlushOptions(), handles[1]), "flush " + path);
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  DUPLEX_RETURN_IF_ERROR(flushed);
  return FromRocks(db->Close(), "close " + path);
}

StatusOr<StoreMeta> SalvageMeta(const std::string& path, rocksdb::Env* env) {
  rocksdb::DBOptions db_options;
  db_options.paranoid_checks = false;
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  if (env != nullptr) db_options.env = env;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {rocksdb::kDefaultColumnFamilyName, {}}, {"state", {}}, {"log", {}}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  DUPLEX_RETURN_IF_ERROR(
      FromRocks(rocksdb::DB::OpenForReadOnly(db_options, path, cfs, &handles, &raw),
                "open " + path + " read-only to salvage its metadata"));
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::ReadOptions ro;
  ro.verify_checksums = true;
  std::string value;
  rocksdb::Status s = db->Get(ro, handles[0], kMetaKey, &value);
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  if (s.IsNotFound()) return NotFound("no metadata record in " + path);
  DUPLEX_RETURN_IF_ERROR(FromRocks(s, "read the metadata of " + path));
  return DecodeMeta(value);
}

}  // namespace duplex
