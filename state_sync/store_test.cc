#include "state_sync/store.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <rocksdb/db.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

namespace duplex {
namespace {

std::string TempDir(const std::string& name) {
  auto dir = std::filesystem::path(::testing::TempDir()) /
             ("duplex_store_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir.string();
}

Delta Put(uint64_t epoch, uint64_t seq, std::string key, std::string value) {
  Delta d;
  d.epoch = epoch;
  d.seq = seq;
  d.mutations.push_back({std::move(key), std::move(value), false});
  return d;
}

std::unique_ptr<Store> OpenAt(const std::string& path, uint64_t retain = 1000) {
  auto store = Store::Open({path, /*sync=*/false, retain, nullptr});
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return std::move(store).value();
}

TEST(Store, AppendsDeltasAndRemembersThemAcrossReopen) {
  auto path = TempDir("reopen");
  Delta d = Put(1, 1, "k", "v");
  d.client_id = 7;
  d.session = {3, 0, "", "OK", 0, 0};
  {
    auto store = OpenAt(path);
    ASSERT_TRUE(store->AdoptEpoch(1).ok());
    ASSERT_TRUE(store->Append({d, Put(1, 2, "j", "w")}).ok());
  }
  auto store = OpenAt(path);
  EXPECT_EQ(store->meta().applied_seq, 2u);
  EXPECT_EQ(store->meta().epoch, 1u);
  EXPECT_EQ(**store->Get("k"), "v");
  EXPECT_FALSE(store->Get("missing")->has_value());
  auto session = store->GetSession(7);
  ASSERT_TRUE(session.ok() && session->has_value());
  EXPECT_EQ((*session)->request_seq, 3u);
  auto log = store->ReadLog(1, 10);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 2u);
  EXPECT_EQ((*log)[0], d);
}

TEST(Store, ListsSessionsInClientOrderFromACursorAndErasesAnExpiredOne) {
  auto store = OpenAt(TempDir("sessions"));
  ASSERT_TRUE(store->AdoptEpoch(2).ok());
  std::vector<Delta> deltas;
  for (uint64_t client : std::vector<uint64_t>{9, 3, 5, 0x0100000000000001}) {
    Delta d = Put(2, deltas.size() + 1, "k" + std::to_string(client), "v");
    d.client_id = client;
    d.session = {1, 0, "", "OK", 0, 1000 + static_cast<int64_t>(client)};
    deltas.push_back(d);
  }
  ASSERT_TRUE(store->Append(deltas).ok());
  auto first = store->ListSessions(0, 2);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].first, 3u);
  EXPECT_EQ((*first)[1].first, 5u);
  EXPECT_EQ((*first)[1].second.used_epoch, 2u);  // the delta's epoch
  EXPECT_EQ((*first)[1].second.used_ms, 1005);
  auto rest = store->ListSessions(5, 10);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->size(), 2u);
  EXPECT_EQ((*rest)[1].first, 0x0100000000000001u);
  EXPECT_TRUE(store->ListSessions(UINT64_MAX, 10)->empty());

  Delta expire;  // no mutations; request seq 0: erase client 5's entry
  expire.epoch = 2;
  expire.seq = 5;
  expire.client_id = 5;
  ASSERT_TRUE(store->Append({expire}).ok());
  EXPECT_FALSE(store->GetSession(5)->has_value());
  EXPECT_TRUE(store->GetSession(9)->has_value());
  EXPECT_EQ(**store->Get("k5"), "v");
  EXPECT_EQ(store->ListSessions(0, 10)->size(), 3u);
}

TEST(Store, KeepsEveryMetadataFieldAcrossReopen) {
  auto path = TempDir("meta");
  {
    auto store = OpenAt(path, /*retain=*/1);
    ASSERT_TRUE(store->AdoptEpoch(3).ok());
    ASSERT_TRUE(store->SetSchema(2).ok());
    ASSERT_TRUE(store->SetClusterVersion("2.0.0").ok());
    for (uint64_t seq = 1; seq <= 1100; ++seq) {
      ASSERT_TRUE(store->Append({Put(3, seq, "k", "v")}).ok());
    }
  }
  auto store = OpenAt(path);
  EXPECT_EQ(store->meta().epoch, 3u);
  EXPECT_EQ(store->meta().applied_epoch, 3u);
  EXPECT_EQ(store->meta().applied_seq, 1100u);
  EXPECT_EQ(store->meta().schema, 2u);
  EXPECT_GT(store->meta().oldest_log_seq, 1u);  // truncated
  EXPECT_FALSE(store->meta().snapshot_incomplete);
  EXPECT_EQ(store->meta().cluster_version, "2.0.0");
}

// Writes metadata keys straight into a store's RocksDB (its default column family), as
// earlier builds did or as a damaged disk might.
void PutRawMeta(const std::string& path,
                const std::vector<std::pair<std::string, std::string>>& kv) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {rocksdb::kDefaultColumnFamilyName, {}}, {"state", {}}, {"log", {}}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(options, path, cfs, &handles, &db).ok());
  for (const auto& [key, value] : kv) ASSERT_TRUE(db->Put({}, handles[0], key, value).ok());
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  delete db;
}

std::string Be64ForTest(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) out[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
  return out;
}

TEST(Store, OpensAStoreWrittenWithOneKeyPerMetadataField) {
  auto path = TempDir("legacy_meta");
  PutRawMeta(path, {{"epoch", Be64ForTest(4)},
                    {"applied_epoch", Be64ForTest(4)},
                    {"applied_seq", Be64ForTest(0)},
                    {"schema", Be64ForTest(2)},
                    {"oldest_log_seq", Be64ForTest(1)},
                    {"snapshot_incomplete", Be64ForTest(0)},
                    {"cluster_version", "1.0.0"}});
  {
    auto store = OpenAt(path);
    EXPECT_EQ(store->meta().epoch, 4u);
    EXPECT_EQ(store->meta().schema, 2u);
    EXPECT_EQ(store->meta().cluster_version, "1.0.0");
    ASSERT_TRUE(store->Append({Put(4, 1, "k", "v")}).ok());
  }
  auto store = OpenAt(path);  // now from the single value, which wins over the old keys
  EXPECT_EQ(store->meta().applied_seq, 1u);
  EXPECT_EQ(store->meta().epoch, 4u);
  EXPECT_EQ(store->meta().cluster_version, "1.0.0");
}

TEST(Store, RefusesToOpenWithDamagedMetadataAndSaysWhy) {
  auto short_path = TempDir("short_meta");
  PutRawMeta(short_path, {{"meta", std::string("\x01\x00\x00", 3)}});
  auto store = Store::Open({short_path, false, 1000, nullptr});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Code::kCorruption);
  EXPECT_NE(store.status().message().find("store meta: 3 bytes, expected at least 49"),
            std::string::npos)
      << store.status().ToString();

  auto format_path = TempDir("format_meta");
  PutRawMeta(format_path, {{"meta", std::string(49, '\x09')}});
  store = Store::Open({format_path, false, 1000, nullptr});
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("store meta: unknown format 9"), std::string::npos)
      << store.status().ToString();
}

TEST(Store, RefusesGapsDuplicatesAndStaleEpochsWithoutWritingAnything) {
  auto store = OpenAt(TempDir("refuse"));
  ASSERT_TRUE(store->AdoptEpoch(2).ok());
  ASSERT_TRUE(store->Append({Put(2, 1, "a", "1")}).ok());
  Status gap = store->Append({Put(2, 3, "b", "2")});
  EXPECT_EQ(gap.code(), Code::kFailedPrecondition);
  EXPECT_NE(gap.message().find("gap before delta 3"), std::string::npos) << gap.message();
  Status dup = store->Append({Put(2, 1, "b", "2")});
  EXPECT_NE(dup.message().find("duplicate delta 1"), std::string::npos) << dup.message();
  EXPECT_EQ(store->Append({Put(3, 2, "b", "2")}).code(), Code::kStaleEpoch);  // above the fence
  ASSERT_TRUE(store->AdoptEpoch(3).ok());
  ASSERT_TRUE(store->Append({Put(3, 2, "b", "2")}).ok());
  EXPECT_EQ(store->Append({Put(2, 3, "c", "3")}).code(), Code::kStaleEpoch);  // epochs never fall
  EXPECT_EQ(store->AdoptEpoch(1).code(), Code::kStaleEpoch);
  // A batch whose second delta is bad writes nothing, not even the first.
  EXPECT_FALSE(store->Append({Put(3, 3, "c", "3"), Put(3, 5, "d", "4")}).ok());
  EXPECT_FALSE(store->Get("c")->has_value());
  EXPECT_EQ(store->meta().applied_seq, 2u);
}

TEST(Store, TruncatesTheLogButKeepsTheRetainedTail) {
  auto store = OpenAt(TempDir("truncate"), /*retain=*/100);
  ASSERT_TRUE(store->AdoptEpoch(1).ok());
  for (uint64_t seq = 1; seq <= 3000; ++seq) {
    ASSERT_TRUE(store->Append({Put(1, seq, "k" + std::to_string(seq % 10), "v")}).ok());
  }
  EXPECT_GT(store->meta().oldest_log_seq, 1u);
  EXPECT_EQ(store->ReadLog(1, 10).status().code(), Code::kNotFound);
  auto tail = store->ReadLog(2901, 1000);
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(tail->size(), 100u);
  EXPECT_EQ(*store->LogEpochAt(3000), 1u);
}

// The simulator's flushes and compactions (auto compaction off): the store reads the same
// before and after, across a reopen, and the compacted log keeps its truncation.
TEST(Store, FlushAndCompactKeepsStateLogAndMetaAcrossReopen) {
  auto path = TempDir("compact");
  StoreOptions options{path, /*sync=*/false, /*log_retain_ops=*/100, nullptr};
  options.auto_compaction = false;
  options.info_log = false;
  {
    auto store = std::move(Store::Open(options)).value();
    ASSERT_TRUE(store->AdoptEpoch(1).ok());
    for (uint64_t seq = 1; seq <= 1500; ++seq) {
      ASSERT_TRUE(
          store->Append({Put(1, seq, "k" + std::to_string(seq % 10), "v" + std::to_string(seq))})
              .ok());
      if (seq % 500 == 0) {
        ASSERT_TRUE(store->FlushAndCompact(seq == 1000).ok());
      }
    }
    ASSERT_TRUE(store->FlushAndCompact(true).ok());
    EXPECT_EQ(**store->Get("k0"), "v1500");
  }
  auto store = std::move(Store::Open(options)).value();
  EXPECT_EQ(store->meta().applied_seq, 1500u);
  EXPECT_EQ(**store->Get("k0"), "v1500");
  EXPECT_EQ(**store->Get("k9"), "v1499");
  EXPECT_EQ(store->ReadLog(1, 10).status().code(), Code::kNotFound);
  auto tail = store->ReadLog(1401, 1000);
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(tail->size(), 100u);
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(path) / "LOG"));
}

TEST(StateDigester, IsTheFnv1aOfEachKeyAndValueWithASeparator) {
  Fnv1a empty;
  EXPECT_EQ(empty.value(), 0xcbf29ce484222325ULL);  // the offset basis
  Fnv1a a;
  a.Add("a");
  EXPECT_EQ(a.value(), 0xaf63dc4c8601ec8cULL);  // the published FNV-1a 64 of "a"

  StateDigester digester;
  digester.Add("k", "v");
  Fnv1a by_hand;
  by_hand.Add(std::string_view("k\0v", 3));
  StateDigest d = digester.Finish(9);
  EXPECT_EQ(d.digest, by_hand.value());
  EXPECT_EQ(d.keys, 1u);
  EXPECT_EQ(d.applied_seq, 9u);

  // The separator keeps ("ab", "c") and ("a", "bc") apart.
  StateDigester one, other;
  one.Add("ab", "c");
  other.Add("a", "bc");
  EXPECT_NE(one.Finish(0).digest, other.Finish(0).digest);
}

TEST(StateDigester, GivesTheStoresDigestWhenFedTheStoresSnapshot) {
  auto store = OpenAt(TempDir("digester"));
  ASSERT_TRUE(store->AdoptEpoch(1).ok());
  for (uint64_t seq = 1; seq <= 50; ++seq) {
    Delta d = Put(1, seq, "k" + std::to_string(seq), std::string(seq, 'x'));
    d.client_id = seq % 5 + 1;
    d.session = {seq, 0, "", "OK", 0, 0};
    ASSERT_TRUE(store->Append({d}).ok());
  }
  StateDigester digester;
  auto cursor = store->OpenSnapshot();
  while (!cursor->done()) {
    auto entries = cursor->Next(100);
    ASSERT_TRUE(entries.ok());
    for (const Mutation& m : *entries) digester.Add(m.key, m.value);
  }
  auto stored = store->Digest();
  ASSERT_TRUE(stored.ok());
  StateDigest fed = digester.Finish(cursor->seq());
  EXPECT_EQ(fed.digest, stored->digest);
  EXPECT_EQ(fed.keys, 55u);  // 50 keys + 5 sessions
  EXPECT_EQ(fed.keys, stored->keys);
  EXPECT_EQ(fed.applied_seq, stored->applied_seq);
}

TEST(Store, SnapshotInstallReproducesTheStateAndDigest) {
  auto source = OpenAt(TempDir("snap_src"));
  ASSERT_TRUE(source->AdoptEpoch(4).ok());
  for (uint64_t seq = 1; seq <= 500; ++seq) {
    Delta d = Put(4, seq, "key" + std::to_string(seq), std::string(100, 'x'));
    d.client_id = seq % 7 + 1;
    d.session.request_seq = seq;
    ASSERT_TRUE(source->Append({d}).ok());
  }
  auto target = OpenAt(TempDir("snap_dst"));
  ASSERT_TRUE(target->AdoptEpoch(1).ok());
  ASSERT_TRUE(target->Append({Put(1, 1, "stale", "gone")}).ok());

  auto cursor = source->OpenSnapshot();
  ASSERT_TRUE(target->BeginSnapshotInstall().ok());
  int chunks = 0;
  while (!cursor->done()) {
    auto entries = cursor->Next(4096);
    ASSERT_TRUE(entries.ok());
    ASSERT_TRUE(target->InstallChunk(*entries).ok());
    ++chunks;
  }
  EXPECT_GT(chunks, 5);
  ASSERT_TRUE(target->FinishSnapshotInstall(cursor->epoch(), cursor->seq(), 1).ok());
  EXPECT_FALSE(target->Get("stale")->has_value());
  EXPECT_EQ(target->meta().applied_seq, 500u);
  EXPECT_EQ(target->meta().epoch, 4u);
  EXPECT_EQ(target->Digest()->digest, source->Digest()->digest);
  EXPECT_EQ(target->Digest()->keys, 507u);  // 500 keys + 7 sessions
  // The next live delta continues the history.
  EXPECT_TRUE(target->Append({Put(4, 501, "next", "v")}).ok());
}

TEST(Store, ACutOffSnapshotInstallLeavesTheStoreMarkedIncomplete) {
  auto path = TempDir("snap_cut");
  {
    auto store = OpenAt(path);
    ASSERT_TRUE(store->BeginSnapshotInstall().ok());
    ASSERT_TRUE(store->InstallChunk({{AppKey("a"), "1", false}}).ok());
  }
  auto store = OpenAt(path);
  EXPECT_TRUE(store->meta().snapshot_incomplete);
  EXPECT_EQ(store->Append({Put(0, 1, "x", "y")}).code(), Code::kFailedPrecondition);
  EXPECT_EQ(store->InstallChunk({{"zbad", "1", false}}).code(), Code::kCorruption);
}

// State, log and metadata commit in one WriteBatch: a process killed at any
// moment leaves a store whose state is exactly deltas 1..applied_seq.
TEST(Store, AProcessKilledMidAppendNeverLeavesStateWithoutItsSeq) {
  auto path = TempDir("kill");
  for (int round = 0; round < 5; ++round) {
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::close(ready[0]);
      int appended = 0;
      auto store = Store::Open({path, /*sync=*/true, 1000, nullptr});
      if (!store.ok()) ::_exit(3);
      uint64_t seq = (*store)->meta().applied_seq;
      (void)(*store)->AdoptEpoch(1);
      for (;;) {
        ++seq;
        // Two keys per delta: both must always equal the applied seq.
        Delta d = Put(1, seq, "left", std::to_string(seq));
        d.mutations.push_back({"right", std::to_string(seq), false});
        if (!(*store)->Append({d}).ok()) ::_exit(4);
        // Tell the parent once some appends are durable; it kills us while we go on.
        if (++appended == 20 + 17 * round && ::write(ready[1], "r", 1) != 1) ::_exit(5);
      }
    }
    ::close(ready[1]);
    pollfd wait_ready{ready[0], POLLIN, 0};
    ASSERT_EQ(::poll(&wait_ready, 1, 10000), 1) << "the child never got its appends done";
    ::close(ready[0]);
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited by itself: " << WEXITSTATUS(status);
    auto store = OpenAt(path);
    uint64_t applied = store->meta().applied_seq;
    if (applied == 0) continue;
    EXPECT_EQ(**store->Get("left"), std::to_string(applied));
    EXPECT_EQ(**store->Get("right"), std::to_string(applied));
    EXPECT_EQ(*store->LogEpochAt(applied), 1u);
  }
}

}  // namespace
}  // namespace duplex
