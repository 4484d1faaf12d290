#include "chaos/hooks/fault_fs.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/utilities/checkpoint.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/files.h"
#include "state_sync/store.h"

namespace duplex {
namespace {

using E = FaultSettings::WriteError;

constexpr int kBoundedWaitMs = 5000;  // every wait in this file gives up after this

Delta Put(uint64_t seq, std::string key, std::string value) {
  Delta d;
  d.epoch = 1;
  d.seq = seq;
  d.mutations.push_back({std::move(key), std::move(value), false});
  return d;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// The harness's way of writing the control file: never half-written.
void WriteAtomically(const std::string& path, const std::string& text) {
  ASSERT_TRUE(WriteFileAtomically(path, text).ok());
}

// Polls `done` every few milliseconds for at most kBoundedWaitMs.
template <typename Pred>
bool WaitFor(Pred done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kBoundedWaitMs);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

class FaultFsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = "/tmp/duplex_fault_fs_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string db_path() const { return dir_ + "/db"; }

  std::unique_ptr<Store> OpenStore(rocksdb::Env* env, bool sync = true) {
    auto store = Store::Open({db_path(), sync, 1000, env});
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  // Forks a child that opens the store through a fault env, appends `count` deltas and is
  // SIGKILLed once it says so; returns the applied seq a fault-free reopen finds.
  uint64_t AppendInChildAndKill(bool sync, bool power_loss, uint64_t count) {
    int ready[2];
    if (::pipe(ready) != 0) {
      ADD_FAILURE() << "pipe failed";
      return 0;
    }
    pid_t child = ::fork();
    if (child < 0) {
      ADD_FAILURE() << "fork failed";
      return 0;
    }
    if (child == 0) {
      ::close(ready[0]);
      FaultEnv fault = MakeFaultEnv("");
      fault.fs->Set({.power_loss = power_loss});
      auto store = Store::Open({db_path(), sync, 1000, fault.env.get()});
      if (!store.ok() || !(*store)->AdoptEpoch(1).ok()) ::_exit(3);
      for (uint64_t seq = 1; seq <= count; ++seq) {
        if (!(*store)->Append({Put(seq, "k", std::to_string(seq))}).ok()) ::_exit(4);
      }
      if (::write(ready[1], "r", 1) != 1) ::_exit(5);
      ::sleep(kBoundedWaitMs / 1000);  // the parent kills us long before this ends
      ::_exit(6);
    }
    ::close(ready[1]);
    pollfd wait_ready{ready[0], POLLIN, 0};
    EXPECT_EQ(::poll(&wait_ready, 1, kBoundedWaitMs), 1) << "the child never finished appending";
    ::close(ready[0]);
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    EXPECT_TRUE(WIFSIGNALED(status)) << "child exited by itself: " << WEXITSTATUS(status);

    auto store = OpenStore(nullptr);
    if (!store) return 0;
    uint64_t applied = store->meta().applied_seq;
    if (applied > 0) {
      EXPECT_EQ(**store->Get("k"), std::to_string(applied));
    }
    return applied;
  }

  std::string dir_;
};

// The fork tests come first: the child should not inherit RocksDB's background threads'
// locks from earlier tests in this process.
TEST_F(FaultFsTest, PowerLossKeepsEverySyncedAppend) {
  EXPECT_EQ(AppendInChildAndKill(/*sync=*/true, /*power_loss=*/true, 50), 50u);
}

TEST_F(FaultFsTest, PowerLossDropsUnsyncedAppends) {
  uint64_t applied = AppendInChildAndKill(/*sync=*/false, /*power_loss=*/true, 50);
  EXPECT_LT(applied, 50u) << "unsynced appends survived a simulated power cut";
}

TEST_F(FaultFsTest, WithoutPowerLossAKillKeepsUnsyncedAppendsInThePageCache) {
  EXPECT_EQ(AppendInChildAndKill(/*sync=*/false, /*power_loss=*/false, 50), 50u);
}

TEST(FaultSettingsText, FormatAndParseRoundTrip) {
  for (E write_error : {E::kNone, E::kNoSpace, E::kIoError}) {
    for (bool sync_only : {false, true}) {
      for (bool power_loss : {false, true}) {
        FaultSettings settings{write_error, sync_only, power_loss};
        auto parsed = ParseFaultSettings(FormatFaultSettings(settings));
        ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
        EXPECT_EQ(*parsed, settings) << FormatFaultSettings(settings);
      }
    }
  }
  auto partial = ParseFaultSettings("# chaos scenario 7\n\n  power_loss = 1 \r\n");
  ASSERT_TRUE(partial.ok()) << partial.status().ToString();
  EXPECT_EQ(*partial, FaultSettings{.power_loss = true});
  EXPECT_EQ(*ParseFaultSettings(""), FaultSettings());
  auto skewed = ParseFaultSettings("clock_offset_ms=-3600000\n");
  ASSERT_TRUE(skewed.ok()) << skewed.status().ToString();
  EXPECT_EQ(skewed->clock_offset_ms, -3600000);
  EXPECT_EQ(*ParseFaultSettings(FormatFaultSettings(*skewed)), *skewed);
  EXPECT_EQ(ParseFaultSettings("clock_offset_ms=soon").status().message(),
            "line 1: clock_offset_ms: 'soon' is not a whole number of milliseconds");
}

TEST(FaultSettingsText, SyncDelayRoundTripsAndOutOfRangeIsAnError) {
  auto slow = ParseFaultSettings("sync_delay_ms=150\n");
  ASSERT_TRUE(slow.ok()) << slow.status().ToString();
  EXPECT_EQ(*slow, FaultSettings{.sync_delay_ms = 150});
  EXPECT_EQ(*ParseFaultSettings(FormatFaultSettings(*slow)), *slow);
  EXPECT_EQ(ParseFaultSettings("sync_delay_ms=-1").status().message(),
            "line 1: sync_delay_ms: '-1' is not a whole number of milliseconds in 0..10000");
  EXPECT_FALSE(ParseFaultSettings("sync_delay_ms=10001").ok());
  EXPECT_FALSE(ParseFaultSettings("sync_delay_ms=fast").ok());
}

TEST(FaultSettingsText, BadLinesAreErrorsNamingTheLineKeyAndValue) {
  auto expect_error = [](std::string_view text, std::vector<std::string> parts) {
    auto parsed = ParseFaultSettings(text);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.status().code(), Code::kInvalidArgument);
    for (const auto& part : parts) {
      EXPECT_NE(parsed.status().message().find(part), std::string::npos)
          << "'" << part << "' missing from: " << parsed.status().message();
    }
  };
  expect_error("write_error=full\n", {"line 1", "write_error", "'full'"});
  expect_error("power_loss=0\nsync_only=yes\n", {"line 2", "sync_only", "'yes'"});
  expect_error("power_loss=2", {"line 1", "power_loss", "'2'"});
  expect_error("\n\ncolour=red", {"line 3", "unknown key 'colour'"});
  expect_error("write_error", {"line 1", "key=value", "'write_error'"});
}

TEST_F(FaultFsTest, WriteErrorsFailAppendsSyncsAndNewFilesOrOnlySyncs) {
  FaultEnv fault = MakeFaultEnv("");
  rocksdb::FileSystem& fs = *fault.fs;
  rocksdb::IOOptions io;
  std::unique_ptr<rocksdb::FSWritableFile> file;
  ASSERT_TRUE(fs.NewWritableFile(dir_ + "/a", {}, &file, nullptr).ok());

  fault.fs->Set({.write_error = E::kNoSpace});
  EXPECT_TRUE(file->Append("x", io, nullptr).IsNoSpace());
  EXPECT_TRUE(file->PositionedAppend("x", 0, io, nullptr).IsNoSpace());
  EXPECT_TRUE(file->Sync(io, nullptr).IsNoSpace());
  EXPECT_TRUE(file->Fsync(io, nullptr).IsNoSpace());
  EXPECT_TRUE(file->RangeSync(0, 1, io, nullptr).IsNoSpace());
  std::unique_ptr<rocksdb::FSWritableFile> other;
  EXPECT_TRUE(fs.NewWritableFile(dir_ + "/b", {}, &other, nullptr).IsNoSpace());
  EXPECT_EQ(fault.fs->counters().injected_errors, 6u);

  fault.fs->Set({.write_error = E::kIoError, .sync_only = true});
  EXPECT_TRUE(file->Append("x", io, nullptr).ok());
  rocksdb::IOStatus sync = file->Sync(io, nullptr);
  EXPECT_TRUE(sync.IsIOError() && !sync.IsNoSpace()) << sync.ToString();
  EXPECT_NE(sync.ToString().find("fault injection: I/O error"), std::string::npos);
  EXPECT_FALSE(file->RangeSync(0, 1, io, nullptr).ok());
  EXPECT_TRUE(fs.NewWritableFile(dir_ + "/b", {}, &other, nullptr).ok());

  fault.fs->Set({});
  EXPECT_TRUE(file->Sync(io, nullptr).ok());
  EXPECT_TRUE(file->Close(io, nullptr).ok());
  EXPECT_TRUE(other->Close(io, nullptr).ok());
}

// A slow disk: each Sync/Fsync waits the delay, appends do not, and turning it off (through
// the control file, as the harness does) makes syncs prompt again.
TEST_F(FaultFsTest, SyncDelaySlowsEverySyncButNoAppendUntilTurnedOff) {
  const std::string control = dir_ + "/faults";
  WriteAtomically(control, "sync_delay_ms=60\n");
  FaultEnv fault = MakeFaultEnv(control);
  rocksdb::FileSystem& fs = *fault.fs;
  rocksdb::IOOptions io;
  std::unique_ptr<rocksdb::FSWritableFile> file;
  ASSERT_TRUE(fs.NewWritableFile(dir_ + "/a", {}, &file, nullptr).ok());
  const auto elapsed_ms = [](auto op) {
    const auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(op().ok());
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start)
        .count();
  };
  EXPECT_GE(elapsed_ms([&] { return file->Sync(io, nullptr); }), 60);
  EXPECT_GE(elapsed_ms([&] { return file->Fsync(io, nullptr); }), 60);
  ASSERT_TRUE(file->Append("x", io, nullptr).ok());
  EXPECT_EQ(fault.fs->counters().delayed_syncs, 2u);

  std::filesystem::remove(control);
  ASSERT_TRUE(WaitFor([&] { return fault.fs->settings().sync_delay_ms == 0; }));
  ASSERT_TRUE(file->Sync(io, nullptr).ok());
  EXPECT_EQ(fault.fs->counters().delayed_syncs, 2u) << "a sync was slowed after the removal";
  EXPECT_TRUE(file->Close(io, nullptr).ok());
}

// A dead machine changes nothing on its disk. RocksDB writes a manifest record, syncs it,
// then deletes the files the record replaced: if the cut falls between the append and the
// sync, the record vanishes, and a delete that still landed would leave a store that
// cannot be opened (the simulator hit this once in a few thousand seeds).
TEST_F(FaultFsTest, WithThePowerCutNoFileIsCreatedDeletedOrRenamed) {
  FaultEnv fault = MakeFaultEnv("");
  fault.fs->Set({.power_loss = true});
  rocksdb::FileSystem& fs = *fault.fs;
  rocksdb::IOOptions io;
  std::unique_ptr<rocksdb::FSWritableFile> file;
  ASSERT_TRUE(fs.NewWritableFile(dir_ + "/a", {}, &file, nullptr).ok());
  ASSERT_TRUE(file->Append("synced", io, nullptr).ok());
  ASSERT_TRUE(file->Sync(io, nullptr).ok());
  ASSERT_TRUE(file->Close(io, nullptr).ok());

  fault.fs->CutPower();
  std::unique_ptr<rocksdb::FSWritableFile> other;
  for (const rocksdb::IOStatus& s :
       {fs.NewWritableFile(dir_ + "/b", {}, &other, nullptr),
        fs.DeleteFile(dir_ + "/a", io, nullptr),
        fs.RenameFile(dir_ + "/a", dir_ + "/c", io, nullptr),
        fs.LinkFile(dir_ + "/a", dir_ + "/d", io, nullptr),
        fs.Truncate(dir_ + "/a", 0, io, nullptr), fs.CreateDir(dir_ + "/e", io, nullptr),
        fs.DeleteDir(dir_, io, nullptr)}) {
    EXPECT_TRUE(s.IsIOError()) << s.ToString();
    EXPECT_NE(s.ToString().find("the power is off"), std::string::npos) << s.ToString();
  }
  fault.fs->RestorePower();

  EXPECT_EQ(std::filesystem::file_size(dir_ + "/a"), 6u);
  for (const char* name : {"/b", "/c", "/d", "/e"}) {
    EXPECT_FALSE(std::filesystem::exists(dir_ + name)) << name;
  }
}

TEST_F(FaultFsTest, PowerLossHoldsAppendsUntilSyncOrCloseAndCountsThemInTheFileSize) {
  FaultEnv fault = MakeFaultEnv("");
  fault.fs->Set({.power_loss = true});
  rocksdb::FileSystem& fs = *fault.fs;
  rocksdb::IOOptions io;
  std::string name = dir_ + "/wal";
  std::unique_ptr<rocksdb::FSWritableFile> file;
  ASSERT_TRUE(fs.NewWritableFile(name, {}, &file, nullptr).ok());
  auto os_size = [&] {
    uint64_t size = 0;
    EXPECT_TRUE(fs.GetFileSize(name, io, &size, nullptr).ok());
    return size;
  };

  ASSERT_TRUE(file->Append("hello", io, nullptr).ok());
  ASSERT_TRUE(file->Flush(io, nullptr).ok());
  EXPECT_EQ(file->GetFileSize(io, nullptr), 5u);  // the writer counts its own appends
  EXPECT_EQ(os_size(), 0u);                       // the OS has none of them yet
  EXPECT_EQ(fault.fs->counters().held_bytes, 5u);

  ASSERT_TRUE(file->Sync(io, nullptr).ok());
  EXPECT_EQ(os_size(), 5u);
  EXPECT_EQ(fault.fs->counters().held_bytes, 0u);

  ASSERT_TRUE(file->Append(" world", io, nullptr).ok());
  EXPECT_EQ(file->GetFileSize(io, nullptr), 11u);
  EXPECT_EQ(os_size(), 5u);
  ASSERT_TRUE(file->Close(io, nullptr).ok());  // closing counts as durable
  EXPECT_EQ(os_size(), 11u);
  EXPECT_EQ(fault.fs->counters().held_bytes, 0u);
}

// Flushes, WAL rotation, compaction and a checkpoint that copies the live WAL by the size
// the file system reports all run while bytes are held: RocksDB must not fail, and closing
// keeps everything. The checkpoint holds what had reached the OS, so not the unsynced WAL
// tail (Store::Checkpoint flushes the memtables first, so it does not depend on the WAL).
TEST_F(FaultFsTest, RocksDbRunsNormallyInPowerLossMode) {
  FaultEnv fault = MakeFaultEnv("");
  fault.fs->Set({.power_loss = true});
  rocksdb::Options options;
  options.create_if_missing = true;
  options.env = fault.env.get();
  options.write_buffer_size = 64 << 10;  // many small memtables: flushes and new WALs
  constexpr int kKeys = 3000;
  {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, db_path(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    for (int i = 0; i < kKeys; ++i) {
      ASSERT_TRUE(
          db->Put(rocksdb::WriteOptions(), "key" + std::to_string(i), std::string(100, 'v')).ok());
    }
    EXPECT_GT(fault.fs->counters().held_bytes, 0u);
    rocksdb::Checkpoint* checkpoint_raw = nullptr;
    ASSERT_TRUE(rocksdb::Checkpoint::Create(db.get(), &checkpoint_raw).ok());
    std::unique_ptr<rocksdb::Checkpoint> checkpoint(checkpoint_raw);
    // No memtable flush first: the live WAL is copied up to the size the file system reports.
    rocksdb::Status s = checkpoint->CreateCheckpoint(dir_ + "/checkpoint", UINT64_MAX);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_TRUE(db->Close().ok());
  }
  EXPECT_EQ(fault.fs->counters().held_bytes, 0u);
  for (const std::string& path : {db_path(), dir_ + "/checkpoint"}) {
    rocksdb::Options plain;
    rocksdb::DB* raw = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(plain, path, &raw);
    ASSERT_TRUE(s.ok()) << path << ": " << s.ToString();
    std::unique_ptr<rocksdb::DB> db(raw);
    std::string value;
    EXPECT_TRUE(db->Get(rocksdb::ReadOptions(), "key0", &value).ok()) << path;
    if (path == db_path()) {
      EXPECT_TRUE(db->Get(rocksdb::ReadOptions(), "key" + std::to_string(kKeys - 1), &value).ok());
    }
  }
}

TEST_F(FaultFsTest, NoSpaceFailsAnAppendAndLeavesTheStoreAsItWas) {
  FaultEnv fault = MakeFaultEnv("");
  {
    auto store = OpenStore(fault.env.get());
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->AdoptEpoch(1).ok());
    ASSERT_TRUE(store->Append({Put(1, "k", "1")}).ok());
    fault.fs->Set({.write_error = E::kNoSpace});
    Status s = store->Append({Put(2, "k", "2"), Put(3, "j", "3")});
    ASSERT_FALSE(s.ok());
    EXPECT_NE(Lower(s.message()).find("no space"), std::string::npos) << s.ToString();
    EXPECT_GE(fault.fs->counters().injected_errors, 1u);
    fault.fs->Set({});
  }
  auto store = OpenStore(fault.env.get());
  ASSERT_TRUE(store);
  EXPECT_EQ(store->meta().applied_seq, 1u);
  EXPECT_EQ(**store->Get("k"), "1");
  EXPECT_FALSE(store->Get("j")->has_value());
  EXPECT_EQ(store->ReadLog(1, 10)->size(), 1u);
  ASSERT_TRUE(store->Append({Put(2, "k", "2")}).ok());
  store.reset();
  store = OpenStore(nullptr);
  ASSERT_TRUE(store);
  EXPECT_EQ(store->meta().applied_seq, 2u);
  EXPECT_EQ(**store->Get("k"), "2");
}

TEST_F(FaultFsTest, SyncOnlyIoErrorFailsASyncedAppend) {
  FaultEnv fault = MakeFaultEnv("");
  auto store = OpenStore(fault.env.get(), /*sync=*/true);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->AdoptEpoch(1).ok());
  fault.fs->Set({.write_error = E::kIoError, .sync_only = true});
  Status s = store->Append({Put(1, "k", "1")});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("fault injection: I/O error"), std::string::npos) << s.ToString();
  // The bytes reached the OS before the sync failed, so, as after a real fsync error, the
  // delta may or may not be there after a restart; either way the store is consistent.
  store.reset();
  store = OpenStore(nullptr);
  ASSERT_TRUE(store);
  uint64_t applied = store->meta().applied_seq;
  EXPECT_LE(applied, 1u);
  EXPECT_EQ(store->Get("k")->has_value(), applied == 1);
}

TEST_F(FaultFsTest, ControlFileTurnsFaultsOnAndItsRemovalTurnsThemOff) {
  std::string control = dir_ + "/faults";
  FaultEnv fault = MakeFaultEnv(control);
  auto can_create = [&] {
    std::unique_ptr<rocksdb::FSWritableFile> file;
    return fault.fs->NewWritableFile(dir_ + "/probe", {}, &file, nullptr).ok();
  };
  ASSERT_TRUE(can_create());

  WriteAtomically(control, "write_error=nospace\n");
  ASSERT_TRUE(WaitFor([&] { return !can_create(); })) << "the control file was never read";
  EXPECT_EQ(fault.fs->settings().write_error, E::kNoSpace);

  std::filesystem::remove(control);
  ASSERT_TRUE(WaitFor(can_create)) << "faults stayed on after the control file was removed";
  EXPECT_EQ(fault.fs->settings(), FaultSettings());
}

TEST_F(FaultFsTest, AControlFileWrittenBeforeStartAppliesFromTheFirstOperation) {
  std::string control = dir_ + "/faults";
  WriteAtomically(control, "power_loss=1\n");
  FaultEnv fault = MakeFaultEnv(control);
  EXPECT_EQ(fault.fs->settings(), FaultSettings{.power_loss = true});
}

TEST_F(FaultFsTest, MalformedControlFileLinesAreReportedOnceAndIgnored) {
  std::string control = dir_ + "/faults";
  FaultEnv fault = MakeFaultEnv(control);
  ::testing::internal::CaptureStderr();
  WriteAtomically(control, "write_error=ioerror\nbogus line\nsync_only=2\npower_loss=1\n");
  bool applied = WaitFor([&] { return fault.fs->settings().write_error == E::kIoError; });
  // Later checks find the file unchanged and neither re-read nor re-report it.
  std::this_thread::sleep_for(std::chrono::milliseconds(3 * FaultFileSystem::kControlCheckMs));
  (void)fault.fs->settings();
  std::string logged = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(applied) << "the control file was never read";
  EXPECT_EQ(fault.fs->settings(),
            (FaultSettings{.write_error = E::kIoError, .sync_only = false, .power_loss = true}));
  EXPECT_NE(logged.find("line 2: expected key=value, got 'bogus line'"), std::string::npos)
      << logged;
  EXPECT_NE(logged.find("line 3: sync_only: '2' is not 0 or 1"), std::string::npos) << logged;
  EXPECT_EQ(fault.fs->counters().malformed_lines, 2u) << logged;
}

}  // namespace
}  // namespace duplex
