#include "upgrade_coordinator/etcd/election_core.h"

#include <gtest/gtest.h>

namespace duplex {
namespace {

constexpr int64_t kMs = 1000;
constexpr int64_t kS = 1000 * kMs;

ElectionOptions Options(int ttl_s = 1) {
  ElectionOptions options;
  options.prefix = "/duplex/t";
  options.self_value = "h1";
  options.lease_ttl_s = ttl_s;
  return options;
}

// Takes the next call, which must be of `kind`.
EtcdCall Expect(ElectionCore& core, int64_t now_us, EtcdCallKind kind) {
  std::optional<EtcdCall> call = core.Next(now_us);
  EXPECT_TRUE(call.has_value()) << "expected " << EtcdCallKindName(kind);
  if (!call) return {};
  EXPECT_EQ(EtcdCallKindName(call->kind), std::string(EtcdCallKindName(kind)));
  return *call;
}

// Grants lease 7 at `now_us` and wins the campaign with revision 42.
void GrantAndWin(ElectionCore& core, int64_t now_us) {
  EtcdCall grant = Expect(core, now_us, EtcdCallKind::kGrant);
  EXPECT_EQ(grant.ttl_s, core.options().lease_ttl_s);
  core.OnGrant(7, core.options().lease_ttl_s, now_us, now_us);
  EtcdCall campaign = Expect(core, now_us, EtcdCallKind::kCampaign);
  EXPECT_EQ(campaign.key, "/duplex/t/leader");
  EXPECT_EQ(campaign.value, "h1");
  EXPECT_EQ(campaign.lease_id, 7);
  core.OnCampaign({true, 42, "h1", 7}, now_us, now_us);
}

TEST(ElectionCore, WinsAnEmptyKeyAndActsWithItsRevisionAsTerm) {
  ElectionCore core(Options(), 0);
  GrantAndWin(core, 0);
  LeaderView view = core.View(10 * kMs);
  EXPECT_TRUE(view.acting);
  EXPECT_EQ(view.term, 42u);
  EXPECT_EQ(view.leader_value, "h1");
  EXPECT_TRUE(view.etcd_reachable);
}

TEST(ElectionCore, ALeaderPastItsLeaseNamesNoLeaderUntilItLearnsWhoTookOver) {
  ElectionCore core(Options(), 0);
  GrantAndWin(core, 0);
  // Frozen past its 1 s lease: it must not name itself (its key may be another's by now).
  LeaderView thawed = core.View(3 * kS);
  EXPECT_FALSE(thawed.acting);
  EXPECT_EQ(thawed.term, 42u);
  EXPECT_EQ(thawed.leader_value, "");
}

TEST(ElectionCore, LosesToAnotherAndLearnsWhoLeads) {
  ElectionCore core(Options(), 0);
  Expect(core, 0, EtcdCallKind::kGrant);
  core.OnGrant(7, 1, 0, 0);
  Expect(core, 0, EtcdCallKind::kCampaign);
  core.OnCampaign({false, 30, "h2", 99}, 0, 1 * kMs);
  LeaderView view = core.View(2 * kMs);
  EXPECT_FALSE(view.acting);
  EXPECT_EQ(view.term, 30u);
  EXPECT_EQ(view.leader_value, "h2");
  // The next campaign comes one poll later, not before.
  EXPECT_FALSE(core.Next(50 * kMs).has_value());
  EXPECT_EQ(core.WakeUs(50 * kMs), 100 * kMs);
  Expect(core, 100 * kMs, EtcdCallKind::kCampaign);
}

TEST(ElectionCore, FollowerLearnsOfANewLeaderAndThenWinsWhenTheKeyIsGone) {
  ElectionCore core(Options(), 0);
  Expect(core, 0, EtcdCallKind::kGrant);
  core.OnGrant(7, 1, 0, 0);
  Expect(core, 0, EtcdCallKind::kCampaign);
  core.OnCampaign({false, 30, "h2", 99}, 0, 0);
  Expect(core, 100 * kMs, EtcdCallKind::kCampaign);
  core.OnCampaign({false, 55, "h3", 98}, 100 * kMs, 100 * kMs);
  EXPECT_EQ(core.View(100 * kMs).leader_value, "h3");
  EXPECT_EQ(core.View(100 * kMs).term, 55u);
  Expect(core, 200 * kMs, EtcdCallKind::kCampaign);
  core.OnCampaign({true, 60, "h1", 7}, 200 * kMs, 200 * kMs);
  EXPECT_TRUE(core.View(200 * kMs).acting);
  EXPECT_EQ(core.View(200 * kMs).term, 60u);
}

TEST(ElectionCore, KeepsTheLeaseAliveEveryThirdOfItsTtl) {
  ElectionCore core(Options(3), 0);
  GrantAndWin(core, 0);
  EXPECT_EQ(core.WakeUs(0), 100 * kMs);  // the next leadership check
  Expect(core, 100 * kMs, EtcdCallKind::kCampaign);
  core.OnCampaign({false, 42, "h1", 7}, 100 * kMs, 100 * kMs);  // still ours
  EXPECT_TRUE(core.View(100 * kMs).acting);
  Expect(core, 1 * kS, EtcdCallKind::kKeepAlive);
  core.OnKeepAlive(3, 1 * kS, 1 * kS + 5 * kMs);
  // Acting until the last keepalive's send time + ttl - margin (250 ms).
  EXPECT_TRUE(core.View(3 * kS + 740 * kMs).acting);
  EXPECT_FALSE(core.View(3 * kS + 750 * kMs).acting);
}

TEST(ElectionCore, StopsActingBeforeItsLeaseCouldExpireWhenKeepalivesFail) {
  ElectionCore core(Options(1), 0);
  GrantAndWin(core, 0);
  int64_t now = 0;
  // From here every call fails: etcd is unreachable.
  while (now < 2 * kS) {
    now += 10 * kMs;
    if (std::optional<EtcdCall> call = core.Next(now)) core.OnFailure("connection refused", now);
    LeaderView view = core.View(now);
    // The lease (granted at 0, ttl 1 s) could expire at 1 s: never act past 1 s - margin.
    EXPECT_EQ(view.acting, now < 750 * kMs) << now;
  }
  LeaderView view = core.View(now);
  EXPECT_FALSE(view.etcd_reachable);
  EXPECT_EQ(view.etcd_error, "connection refused");
  EXPECT_GE(view.etcd_silent_ms, 1900);
}

TEST(ElectionCore, ActingResumesWithTheSameTermWhenEtcdAnswersBeforeTheLeaseExpired) {
  // etcd without quorum answers nothing; when quorum returns, its new raft leader renews every
  // lease, so the key is still ours: acting resumes on the first acknowledged keepalive.
  ElectionCore core(Options(1), 0);
  GrantAndWin(core, 0);
  Expect(core, 100 * kMs, EtcdCallKind::kCampaign);
  core.OnFailure("request timed out", 900 * kMs);
  EXPECT_FALSE(core.View(900 * kMs).acting);
  EtcdCall keepalive = Expect(core, 900 * kMs, EtcdCallKind::kKeepAlive);
  EXPECT_EQ(keepalive.lease_id, 7);
  core.OnKeepAlive(1, 900 * kMs, 950 * kMs);
  LeaderView view = core.View(950 * kMs);
  EXPECT_TRUE(view.acting);
  EXPECT_EQ(view.term, 42u);
  EXPECT_TRUE(view.etcd_reachable);
  EXPECT_FALSE(core.View(1650 * kMs).acting);  // 900 ms + 1 s - 250 ms
}

TEST(ElectionCore, AnExpiredLeaseEndsLeadershipAndCampaignsAgainWithANewOne) {
  ElectionCore core(Options(1), 0);
  GrantAndWin(core, 0);
  Expect(core, 100 * kMs, EtcdCallKind::kCampaign);
  core.OnFailure("timeout", 1100 * kMs);
  Expect(core, 1200 * kMs, EtcdCallKind::kKeepAlive);
  core.OnKeepAlive(0, 1200 * kMs, 1201 * kMs);  // etcd says: expired
  EXPECT_FALSE(core.View(1201 * kMs).acting);
  EXPECT_EQ(core.lease_id(), 0);
  Expect(core, 1201 * kMs, EtcdCallKind::kGrant);
  core.OnGrant(8, 1, 1201 * kMs, 1202 * kMs);
  EtcdCall campaign = Expect(core, 1202 * kMs, EtcdCallKind::kCampaign);
  EXPECT_EQ(campaign.lease_id, 8);
  core.OnCampaign({true, 70, "h1", 8}, 1202 * kMs, 1203 * kMs);
  EXPECT_TRUE(core.View(1203 * kMs).acting);
  EXPECT_EQ(core.View(1203 * kMs).term, 70u);
}

TEST(ElectionCore, ACheckThatFindsTheKeyOnAnotherLeaseEndsLeadershipAtOnce) {
  ElectionCore core(Options(1), 0);
  GrantAndWin(core, 0);
  Expect(core, 100 * kMs, EtcdCallKind::kCampaign);
  core.OnCampaign({false, 50, "h2", 99}, 100 * kMs, 101 * kMs);
  LeaderView view = core.View(101 * kMs);
  EXPECT_FALSE(view.acting);
  EXPECT_EQ(view.term, 50u);
  EXPECT_EQ(view.leader_value, "h2");
}

TEST(ElectionCore, AKeyOnOurLeaseIsOursEvenWhenTheWinningAnswerWasLost) {
  ElectionCore core(Options(1), 0);
  Expect(core, 0, EtcdCallKind::kGrant);
  core.OnGrant(7, 1, 0, 0);
  Expect(core, 0, EtcdCallKind::kCampaign);
  core.OnFailure("read timeout", 10 * kMs);  // the put happened, the answer was lost
  Expect(core, 110 * kMs, EtcdCallKind::kCampaign);
  core.OnCampaign({false, 42, "h1", 7}, 110 * kMs, 111 * kMs);
  EXPECT_TRUE(core.View(111 * kMs).acting);
  EXPECT_EQ(core.View(111 * kMs).term, 42u);
}

TEST(ElectionCore, ResignStopsActingRevokesAndHoldsOffCampaigning) {
  ElectionCore core(Options(1), 0);
  GrantAndWin(core, 0);
  core.Resign(50 * kMs);
  EXPECT_FALSE(core.View(50 * kMs).acting);
  EtcdCall revoke = Expect(core, 50 * kMs, EtcdCallKind::kRevoke);
  EXPECT_EQ(revoke.lease_id, 7);
  core.OnRevoked(51 * kMs);
  Expect(core, 51 * kMs, EtcdCallKind::kGrant);
  core.OnGrant(9, 1, 51 * kMs, 52 * kMs);
  // No campaign during the hold (one ttl), only keepalives.
  for (int64_t now = 52 * kMs; now < 1050 * kMs; now += 10 * kMs) {
    std::optional<EtcdCall> call = core.Next(now);
    if (!call) continue;
    ASSERT_EQ(call->kind, EtcdCallKind::kKeepAlive) << now;
    core.OnKeepAlive(1, now, now);
  }
  Expect(core, 1050 * kMs, EtcdCallKind::kCampaign);
}

TEST(ElectionCore, ResignWhileACampaignIsOutstandingDoesNotTakeTheKey) {
  ElectionCore core(Options(1), 0);
  Expect(core, 0, EtcdCallKind::kGrant);
  core.OnGrant(7, 1, 0, 0);
  Expect(core, 0, EtcdCallKind::kCampaign);
  core.Resign(1 * kMs);
  core.OnCampaign({true, 42, "h1", 7}, 0, 2 * kMs);
  EXPECT_FALSE(core.View(2 * kMs).acting);
  Expect(core, 2 * kMs, EtcdCallKind::kRevoke);
}

TEST(ElectionCore, OneCallOutstandingAtATime) {
  ElectionCore core(Options(1), 0);
  Expect(core, 0, EtcdCallKind::kGrant);
  EXPECT_FALSE(core.Next(0).has_value());
  EXPECT_FALSE(core.Next(5 * kS).has_value());
  EXPECT_TRUE(core.outstanding());
}

TEST(ElectionCore, SilenceWithoutAFailureCountsAsUnreachableAfterASecond) {
  ElectionCore core(Options(1), 0);
  GrantAndWin(core, 0);
  Expect(core, 100 * kMs, EtcdCallKind::kCampaign);  // and it hangs
  EXPECT_TRUE(core.View(900 * kMs).etcd_reachable);
  LeaderView view = core.View(1000 * kMs);
  EXPECT_FALSE(view.etcd_reachable);
  EXPECT_EQ(view.etcd_error, "no answer from etcd for 1000 ms");
}

}  // namespace
}  // namespace duplex
