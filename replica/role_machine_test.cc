#include "replica/role_machine.h"

#include <gtest/gtest.h>

#include <vector>

namespace duplex {
namespace {

struct Recorder : RoleListener {
  void OnRoleEntered(RoleState s) override { entered.push_back(s); }
  std::vector<RoleState> entered;
};

TEST(RoleMachine, StartsOutOfServiceAndFollowsThePromotionPath) {
  Recorder rec;
  RoleMachine m(&rec);
  EXPECT_EQ(m.state(), RoleState::kOutOfService);
  EXPECT_TRUE(m.BecomeStandby());
  EXPECT_EQ(m.state(), RoleState::kCatchingUp);
  EXPECT_TRUE(m.CaughtUp());
  EXPECT_EQ(m.state(), RoleState::kInSync);
  EXPECT_TRUE(m.Promote());
  EXPECT_EQ(m.state(), RoleState::kPromoting);
  EXPECT_TRUE(m.LeaseWaitOver(/*solo_granted=*/true));
  EXPECT_EQ(m.state(), RoleState::kSolo);
  EXPECT_TRUE(m.PeerInSync());
  EXPECT_EQ(m.state(), RoleState::kReplicating);
  EXPECT_TRUE(m.SoloGranted());
  EXPECT_EQ(m.state(), RoleState::kSolo);
  std::vector<RoleState> expected = {RoleState::kCatchingUp,  RoleState::kInSync,
                                     RoleState::kPromoting,   RoleState::kSolo,
                                     RoleState::kReplicating, RoleState::kSolo};
  EXPECT_EQ(rec.entered, expected);
  EXPECT_EQ(m.refused(), 0u);
}

TEST(RoleMachine, APromotionWithoutSoloGrantStartsReplicating) {
  RoleMachine m(nullptr);
  ASSERT_TRUE(m.Promote());
  ASSERT_TRUE(m.LeaseWaitOver(false));
  EXPECT_EQ(m.state(), RoleState::kReplicating);
}

TEST(RoleMachine, RefusesEventsThatAreNotLegalInTheCurrentState) {
  RoleMachine m(nullptr);
  // Out of service: nothing to catch up with, no lease to wait for, no standby.
  EXPECT_FALSE(m.CaughtUp());
  EXPECT_FALSE(m.LeaseWaitOver(true));
  EXPECT_FALSE(m.SoloGranted());
  EXPECT_FALSE(m.PeerInSync());
  EXPECT_FALSE(m.FellBehind());
  EXPECT_EQ(m.state(), RoleState::kOutOfService);
  EXPECT_EQ(m.refused(), 5u);
  EXPECT_EQ(m.last_refusal(), "FellBehind refused in OutOfService");

  // A standby never goes solo and never waits for a lease.
  ASSERT_TRUE(m.BecomeStandby());
  EXPECT_FALSE(m.SoloGranted());
  EXPECT_FALSE(m.PeerInSync());
  EXPECT_FALSE(m.LeaseWaitOver(false));
  EXPECT_EQ(m.state(), RoleState::kCatchingUp);

  // An active does not catch up or fall behind; a promoting replica is not active yet.
  ASSERT_TRUE(m.Promote());
  EXPECT_FALSE(m.SoloGranted());
  EXPECT_FALSE(m.CaughtUp());
  ASSERT_TRUE(m.LeaseWaitOver(false));
  EXPECT_FALSE(m.CaughtUp());
  EXPECT_FALSE(m.FellBehind());
  EXPECT_FALSE(m.LeaseWaitOver(true));
  EXPECT_EQ(m.state(), RoleState::kReplicating);
  EXPECT_EQ(m.last_refusal(), "LeaseWaitOver refused in Active/Replicating");
}

TEST(RoleMachine, ADeposedActiveBecomesAStandbyThatCatchesUpAgain) {
  Recorder rec;
  RoleMachine m(&rec);
  ASSERT_TRUE(m.Promote());
  ASSERT_TRUE(m.LeaseWaitOver(true));
  ASSERT_TRUE(m.BecomeStandby());
  EXPECT_EQ(m.state(), RoleState::kCatchingUp);
  ASSERT_TRUE(m.CaughtUp());
  // A new epoch re-enters the standby: it says hello again from CatchingUp.
  ASSERT_TRUE(m.BecomeStandby());
  EXPECT_EQ(m.state(), RoleState::kCatchingUp);
  EXPECT_EQ(rec.entered.back(), RoleState::kCatchingUp);
  ASSERT_TRUE(m.TakeOutOfService());
  EXPECT_EQ(m.state(), RoleState::kOutOfService);
  EXPECT_TRUE(m.TakeOutOfService());  // idempotent
}

TEST(RoleMachine, InSyncRedundantEventsAreAcceptedWithoutChange) {
  RoleMachine m(nullptr);
  ASSERT_TRUE(m.BecomeStandby());
  EXPECT_TRUE(m.FellBehind());
  EXPECT_EQ(m.state(), RoleState::kCatchingUp);
  ASSERT_TRUE(m.CaughtUp());
  EXPECT_TRUE(m.CaughtUp());
  EXPECT_EQ(m.state(), RoleState::kInSync);
  EXPECT_TRUE(m.FellBehind());
  EXPECT_EQ(m.state(), RoleState::kCatchingUp);
}

}  // namespace
}  // namespace duplex
