// Corruption at rest on a real RocksDB in a temporary directory: bytes flipped in an SST or
// a WAL file while the store is closed must stop its open, and OpenOrQuarantine must put
// the store aside and start an empty one that waits for a full resync.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "state_sync/store.h"
#include "state_sync/store_quarantine.h"

namespace duplex {
namespace {

namespace fs = std::filesystem;

std::string TempDir(const std::string& name) {
  auto dir = fs::path(::testing::TempDir()) /
             ("duplex_corruption_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir.string();
}

// A closed store of `n` committed deltas, each with a value of 100 bytes.
void WriteStore(const std::string& path, uint64_t n) {
  auto store = Store::Open({path, /*sync=*/true, 1000, nullptr});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_TRUE((*store)->AdoptEpoch(1).ok());
  for (uint64_t seq = 1; seq <= n; ++seq) {
    Delta d;
    d.epoch = 1;
    d.seq = seq;
    d.mutations.push_back({"key-" + std::to_string(seq), std::string(100, 'v'), false});
    ASSERT_TRUE((*store)->Append({d}).ok());
  }
}

std::vector<fs::path> FilesEndingWith(const std::string& path, const std::string& suffix) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(path)) {
    const std::string name = e.path().filename().string();
    if (name.size() > suffix.size() && name.ends_with(suffix) && fs::file_size(e.path()) > 0) {
      out.push_back(e.path());
    }
  }
  return out;
}

// Inverts every bit of one byte, `at` bytes into the file (negative: from its end).
void FlipByte(const fs::path& file, int64_t at) {
  const auto size = static_cast<int64_t>(fs::file_size(file));
  const int64_t offset = at >= 0 ? at : size + at;
  ASSERT_TRUE(offset >= 0 && offset < size) << file << " " << offset << " of " << size;
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(offset);
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(~c);
  f.seekp(offset);
  f.write(&c, 1);
  ASSERT_TRUE(f.good());
}

TEST(StoreCorruption, AByteFlippedInAnSstDataBlockIsFoundWhenTheStoreOpens) {
  const std::string path = TempDir("sst");
  WriteStore(path, 200);
  ASSERT_TRUE(FlushClosedStoreState(path).ok());
  auto ssts = FilesEndingWith(path, ".sst");
  ASSERT_EQ(ssts.size(), 1u);
  // The middle of the state: a data block, read by no open and no lookup of the metadata.
  FlipByte(ssts[0], static_cast<int64_t>(fs::file_size(ssts[0]) / 4));
  auto store = Store::Open({path, true, 1000, nullptr});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Code::kCorruption) << store.status().ToString();
}

TEST(StoreCorruption, WithoutTheCheckOnOpenAFlippedSstBlockGoesUnnoticed) {
  // Why verify_on_open exists: RocksDB's own open reads no data block.
  const std::string path = TempDir("sst_unchecked");
  WriteStore(path, 200);
  ASSERT_TRUE(FlushClosedStoreState(path).ok());
  auto ssts = FilesEndingWith(path, ".sst");
  ASSERT_EQ(ssts.size(), 1u);
  FlipByte(ssts[0], static_cast<int64_t>(fs::file_size(ssts[0]) / 4));
  StoreOptions o{path, true, 1000, nullptr};
  o.verify_on_open = false;
  EXPECT_TRUE(Store::Open(o).ok());
}

TEST(StoreCorruption, AByteFlippedInAWalRecordIsFoundWhenTheStoreOpens) {
  const std::string path = TempDir("wal");
  WriteStore(path, 200);
  auto wals = FilesEndingWith(path, ".log");
  ASSERT_EQ(wals.size(), 1u);
  FlipByte(wals[0], static_cast<int64_t>(fs::file_size(wals[0]) / 2));
  auto store = Store::Open({path, true, 1000, nullptr});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Code::kCorruption) << store.status().ToString();
}

TEST(StoreCorruption, ATornLastWalRecordIsAnUnacknowledgedWriteAndIsDropped) {
  // A crash in the middle of the last append: its fsync never returned, so it was never
  // acknowledged; the store opens at the write before it.
  const std::string path = TempDir("torn");
  WriteStore(path, 20);
  auto wals = FilesEndingWith(path, ".log");
  ASSERT_EQ(wals.size(), 1u);
  fs::resize_file(wals[0], fs::file_size(wals[0]) - 5);
  auto store = Store::Open({path, true, 1000, nullptr});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->meta().applied_seq, 19u);
}

TEST(StoreCorruption, ACorruptStoreIsQuarantinedAndReplacedByAnEmptyOneAwaitingResync) {
  const std::string path = TempDir("quarantine");
  WriteStore(path, 200);
  std::ofstream(fs::path(path) / "owner.pid") << "123\n";
  auto wals = FilesEndingWith(path, ".log");
  ASSERT_EQ(wals.size(), 1u);
  FlipByte(wals[0], static_cast<int64_t>(fs::file_size(wals[0]) / 2));
  {
    auto opened = OpenOrQuarantine({path, true, 1000, nullptr}, {"owner.pid"});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    EXPECT_NE(opened->corrupt.find("Corruption"), std::string::npos) << opened->corrupt;
    const StoreMeta& meta = opened->store->meta();
    EXPECT_TRUE(meta.snapshot_incomplete);
    EXPECT_EQ(meta.applied_seq, 0u);
    EXPECT_EQ(meta.epoch, 1u) << "the epoch fence is kept from the records before the damage";
    EXPECT_FALSE(opened->store->Get("key-1")->has_value()) << "no corrupt state is served";
  }
  EXPECT_TRUE(fs::exists(fs::path(path) / "owner.pid")) << "the pid lock stays";
  const fs::path quarantine = QuarantineDirOf(path);
  EXPECT_TRUE(fs::exists(quarantine / "REASON"));
  EXPECT_TRUE(fs::exists(quarantine / "CURRENT")) << "the corrupt store is kept for the operator";

  // Restarted before the resync: still incomplete, still saying why.
  {
    auto again = OpenOrQuarantine({path, true, 1000, nullptr}, {"owner.pid"});
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    EXPECT_TRUE(again->store->meta().snapshot_incomplete);
    EXPECT_NE(again->corrupt.find("Corruption"), std::string::npos);
    // The resync from the peer completes.
    ASSERT_TRUE(again->store->InstallChunk({{AppKey("key-1"), "from the peer", false}}).ok());
    ASSERT_TRUE(again->store->FinishSnapshotInstall(1, 200, 1).ok());
  }
  auto resynced = OpenOrQuarantine({path, true, 1000, nullptr}, {"owner.pid"});
  ASSERT_TRUE(resynced.ok()) << resynced.status().ToString();
  EXPECT_EQ(resynced->corrupt, "");
  EXPECT_EQ(**resynced->store->Get("key-1"), "from the peer");
  EXPECT_TRUE(fs::exists(quarantine / "REASON.resynced"));
}

TEST(StoreCorruption, AStoreThatFailsToOpenForAnotherReasonIsNotQuarantined) {
  const std::string path = TempDir("locked");
  WriteStore(path, 5);
  auto holder = Store::Open({path, true, 1000, nullptr});  // RocksDB's LOCK: an IOError
  ASSERT_TRUE(holder.ok());
  auto second = OpenOrQuarantine({path, true, 1000, nullptr}, {});
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().code(), Code::kCorruption);
  EXPECT_FALSE(fs::exists(QuarantineDirOf(path)));
}

}  // namespace
}  // namespace duplex
