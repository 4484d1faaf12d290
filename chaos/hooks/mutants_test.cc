#include "chaos/hooks/mutants.h"

#include <gtest/gtest.h>
#include <stdlib.h>

namespace duplex {
namespace {

TEST(Mutants, AListNamesEachMutantItSwitchesOn) {
  auto set = MutantSet::Parse("skip-fsync,skip-epoch-check");
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_TRUE(set->Has(Mutant::kSkipFsync));
  EXPECT_TRUE(set->Has(Mutant::kSkipEpochCheck));
  EXPECT_FALSE(set->Has(Mutant::kAckBeforeReplication));
  EXPECT_FALSE(set->Has(Mutant::kEnableFlagsEarly));
}

TEST(Mutants, EveryNameParsesBackToItsMutant) {
  for (int i = 0; i < kMutantCount; ++i) {
    auto mutant = static_cast<Mutant>(i);
    auto set = MutantSet::Parse(MutantName(mutant));
    ASSERT_TRUE(set.ok()) << MutantName(mutant);
    EXPECT_TRUE(set->Has(mutant)) << MutantName(mutant);
  }
}

TEST(Mutants, AnEmptyListSwitchesNothingOn) {
  auto set = MutantSet::Parse("");
  ASSERT_TRUE(set.ok());
  EXPECT_TRUE(set->empty());
}

TEST(Mutants, AnUnknownNameIsRefusedByName) {
  EXPECT_EQ(MutantSet::Parse("skip-fsync,skip-everything").status().message(),
            "\"skip-everything\" is not a known mutant");
}

TEST(Mutants, TheEnvironmentIsReadWhenAsked) {
  ::setenv("DUPLEX_MUTANTS", "ack-before-replication", 1);
  auto set = MutantSet::FromEnvironment();
  ::unsetenv("DUPLEX_MUTANTS");
  ASSERT_TRUE(set.ok());
  EXPECT_TRUE(set->Has(Mutant::kAckBeforeReplication));
  auto none = MutantSet::FromEnvironment();
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(Mutants, SkipEpochCheckResumesATailThatTheRuleSendsASnapshotFor) {
  StandbyTail deposed{.seq = 7, .standby_epoch = 2, .active_epoch = 3};
  StandbyTail same{.seq = 7, .standby_epoch = 3, .active_epoch = 3};
  EXPECT_FALSE(TailResumesInSameEpoch(deposed));
  EXPECT_TRUE(TailResumesInSameEpoch(same));
  EXPECT_TRUE(TailResumesInAnyEpoch(deposed));
  EXPECT_TRUE(TailResumesInAnyEpoch(same));
}

TEST(Mutants, TheReadMutantsBreakOnlyTheirOwnReadRule) {
  ReplicaOptions right;
  ApplyReadMutants({}, &right);
  EXPECT_EQ(right.unleased_reads, &ReadsNeedALease);
  EXPECT_EQ(right.promote_wait, &WaitOutTheOldLease);
  EXPECT_EQ(right.reads_wait, &ReadsWaitForEarlierWrites);

  ReplicaOptions stale;
  ApplyReadMutants({Mutant::kStaleRead}, &stale);
  EXPECT_TRUE(stale.unleased_reads(UnleasedRead{.was_active = true}));
  EXPECT_FALSE(stale.unleased_reads(UnleasedRead{.was_active = false}));
  EXPECT_EQ(stale.promote_wait, &WaitOutTheOldLease);

  ReplicaOptions eager;
  ApplyReadMutants({Mutant::kPromoteWithoutLeaseWait, Mutant::kReadUncommitted}, &eager);
  PromoteWait wait{
      .now_us = 1000, .last_renewal_us = 900, .lease_us = 200, .skip_lease_wait = false};
  EXPECT_EQ(WaitOutTheOldLease(wait), 1100);
  EXPECT_EQ(eager.promote_wait(wait), 1000);
  EXPECT_FALSE(eager.reads_wait());
  EXPECT_EQ(eager.unleased_reads, &ReadsNeedALease);
}

}  // namespace
}  // namespace duplex
