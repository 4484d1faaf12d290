#include "replica/role_machine.h"

#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <string>
#include <utility>
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

// Every input from every state, once: the role machine checks each against its table of the
// transitions allowed (an assertion in RoleMachine), and this test pins the table itself.
TEST(RoleMachine, EveryInputFromEveryStateFollowsTheTableOfTransitions) {
  using R = RoleState;
  using Reach = std::function<void(RoleMachine&)>;
  const std::vector<std::pair<R, Reach>> states = {
      {R::kOutOfService, [](RoleMachine&) {}},
      {R::kCatchingUp, [](RoleMachine& m) { m.BecomeStandby(); }},
      {R::kInSync,
       [](RoleMachine& m) {
         m.BecomeStandby();
         m.CaughtUp();
       }},
      {R::kPromoting, [](RoleMachine& m) { m.Promote(); }},
      {R::kReplicating,
       [](RoleMachine& m) {
         m.Promote();
         m.LeaseWaitOver(false);
       }},
      {R::kSolo,
       [](RoleMachine& m) {
         m.Promote();
         m.LeaseWaitOver(true);
       }},
  };
  struct Input {
    const char* name;
    std::function<bool(RoleMachine&)> apply;
    std::function<std::optional<R>(R)> leads_to;  // nullopt: refused there
  };
  auto in = [](bool legal, R to) { return legal ? std::optional<R>(to) : std::nullopt; };
  const std::vector<Input> inputs = {
      {"BecomeStandby", [](RoleMachine& m) { return m.BecomeStandby(); },
       [](R) { return std::optional<R>(R::kCatchingUp); }},
      {"CaughtUp", [](RoleMachine& m) { return m.CaughtUp(); },
       [&](R s) { return in(IsStandby(s), R::kInSync); }},
      {"FellBehind", [](RoleMachine& m) { return m.FellBehind(); },
       [&](R s) { return in(IsStandby(s), R::kCatchingUp); }},
      {"Promote", [](RoleMachine& m) { return m.Promote(); },
       [](R) { return std::optional<R>(R::kPromoting); }},
      {"LeaseWaitOver", [](RoleMachine& m) { return m.LeaseWaitOver(false); },
       [&](R s) { return in(s == R::kPromoting, R::kReplicating); }},
      {"LeaseWaitOver(solo)", [](RoleMachine& m) { return m.LeaseWaitOver(true); },
       [&](R s) { return in(s == R::kPromoting, R::kSolo); }},
      {"SoloGranted", [](RoleMachine& m) { return m.SoloGranted(); },
       [&](R s) { return in(IsActive(s), R::kSolo); }},
      {"PeerInSync", [](RoleMachine& m) { return m.PeerInSync(); },
       [&](R s) { return in(IsActive(s), R::kReplicating); }},
      {"TakeOutOfService", [](RoleMachine& m) { return m.TakeOutOfService(); },
       [](R) { return std::optional<R>(R::kOutOfService); }},
  };
  for (const auto& [from, reach] : states) {
    for (const Input& input : inputs) {
      SCOPED_TRACE(std::string(input.name) + " in " + RoleStatePath(from));
      RoleMachine m(nullptr);
      reach(m);
      ASSERT_EQ(m.state(), from);
      const std::optional<R> expected = input.leads_to(from);
      EXPECT_EQ(input.apply(m), expected.has_value());
      EXPECT_EQ(m.state(), expected.value_or(from));
      EXPECT_EQ(m.refused(), expected.has_value() ? 0u : 1u);
    }
  }
}

}  // namespace
}  // namespace duplex
