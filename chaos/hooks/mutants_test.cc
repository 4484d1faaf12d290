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

}  // namespace
}  // namespace duplex
