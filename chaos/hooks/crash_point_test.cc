#include "chaos/hooks/crash_point.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "upgrade_coordinator/record_store.h"

namespace duplex {
namespace {

namespace fs = std::filesystem;

class CrashPointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("duplex-crashpoint-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto store = OpenRecordStore((dir_ / "db").string());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = WithCrashPoint(std::move(store).value(), Control());
    ASSERT_TRUE(store_->Load().ok());
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  std::string Control() const { return (dir_ / "crash").string(); }
  std::unique_ptr<RecordStore> Reopened() {
    auto store = OpenRecordStore((dir_ / "db").string());
    if (!store.ok()) return nullptr;
    auto wrapped = WithCrashPoint(std::move(store).value(), Control());
    return wrapped->Load().ok() ? std::move(wrapped) : nullptr;
  }
  // Saving `r` ends the process with 137. A death test forks: the store is closed first,
  // so that no thread of its RocksDB holds a lock the child would then wait on forever
  // (seen under ASan: the allocator's), and the child opens it again (the crash point's
  // count is in its control file, the last record in the store).
  void ExpectSaveExits(const ClusterRecord& r) {
    store_.reset();
    EXPECT_EXIT(
        {
          std::unique_ptr<RecordStore> child = Reopened();
          if (child == nullptr) std::_Exit(3);
          (void)child->Save(r);
        },
        ::testing::ExitedWithCode(137), "");
    store_ = Reopened();
    ASSERT_NE(store_, nullptr);
  }
  void Arm(const std::string& text) { std::ofstream(Control()) << text; }
  std::string Armed() const {
    std::ifstream in(Control());
    std::string what, n;
    in >> what >> n;
    return in || !what.empty() ? what + " " + n : "";
  }

  fs::path dir_;
  std::unique_ptr<RecordStore> store_;
};

TEST(CrashPoint, ParsesWhatAndHowMany) {
  std::string what;
  int n = 0;
  ASSERT_TRUE(ParseCrashPoint("reload 2\n", &what, &n).ok());
  EXPECT_EQ(what, "reload");
  EXPECT_EQ(n, 2);
  ASSERT_TRUE(ParseCrashPoint("any", &what, &n).ok());
  EXPECT_EQ(n, 1);
  EXPECT_EQ(ParseCrashPoint("soon 1", &what, &n).message(),
            "crash point \"soon 1\": expected any, reload, epoch or finalize, then a count");
  EXPECT_EQ(ParseCrashPoint("any 0", &what, &n).message(),
            "crash point \"any 0\": the count must be a number >= 1");
  EXPECT_FALSE(ParseCrashPoint("any 2x", &what, &n).ok());
}

TEST_F(CrashPointTest, UnarmedWritesGoThrough) {
  ClusterRecord r;
  r.replica_version["b"] = "2.0.0";
  EXPECT_TRUE(store_->Save(r).ok());
  EXPECT_TRUE(store_->Put("campaign", "{}").ok());
}

TEST_F(CrashPointTest, CountsOnlyTheWritesItNames) {
  Arm("reload 2\n");
  ClusterRecord r;
  r.epoch = 1;
  ASSERT_TRUE(store_->Save(r).ok());  // no version change
  ASSERT_TRUE(store_->Put("campaign", "{}").ok());
  EXPECT_EQ(Armed(), "reload 2");
  r.replica_version["b"] = "2.0.0";
  ASSERT_TRUE(store_->Save(r).ok());  // the first reload
  EXPECT_EQ(Armed(), "reload 1");
  r.replica_version["b"] = "1.0.0";
  ExpectSaveExits(r);
}

TEST_F(CrashPointTest, TheExitComesAfterTheWriteIsDurable) {
  Arm("any 1\n");
  ClusterRecord r;
  r.epoch = 7;
  ExpectSaveExits(r);
  EXPECT_FALSE(fs::exists(Control())) << "disarmed before the exit: the restart runs on";
  auto loaded = store_->Load();
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  EXPECT_EQ((**loaded).epoch, 7u);
}

// A failover's epoch write: the promotion is durable, the replica not yet told.
TEST_F(CrashPointTest, EpochCountsOnlyTheWritesThatRaiseTheEpoch) {
  Arm("epoch 2\n");
  ClusterRecord r;
  r.epoch = 3;
  ASSERT_TRUE(store_->Save(r).ok());  // the first epoch write
  EXPECT_EQ(Armed(), "epoch 1");
  r.in_sync["b"] = false;
  ASSERT_TRUE(store_->Save(r).ok());  // same epoch: not counted
  ASSERT_TRUE(store_->Put("campaign", "{}").ok());
  EXPECT_EQ(Armed(), "epoch 1");
  r.epoch = 4;
  ExpectSaveExits(r);
}

// Finalize raises the cluster version from one set before; the first record's initial
// version is no finalize.
TEST_F(CrashPointTest, FinalizeCountsOnlyARaisedClusterVersion) {
  Arm("finalize 1\n");
  ClusterRecord r;
  r.cluster_version = "1.0.0";
  ASSERT_TRUE(store_->Save(r).ok());
  r.epoch = 1;
  ASSERT_TRUE(store_->Save(r).ok());
  EXPECT_EQ(Armed(), "finalize 1");
  r.cluster_version = "2.0.0";
  ExpectSaveExits(r);
}

}  // namespace
}  // namespace duplex
