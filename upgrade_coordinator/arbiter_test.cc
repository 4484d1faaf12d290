#include "upgrade_coordinator/arbiter.h"

#include <gtest/gtest.h>

#include "common/fatal.h"

namespace duplex {
namespace {

struct MemoryRecordStore : RecordStore {
  StatusOr<std::optional<ClusterRecord>> Load() override { return saved; }
  Status Save(const ClusterRecord& r) override {
    saved = r;
    ++saves;
    return Status::Ok();
  }
  StatusOr<std::optional<std::string>> Get(const std::string& key) override {
    auto it = blobs.find(key);
    return it == blobs.end() ? std::optional<std::string>() : std::optional(it->second);
  }
  Status Put(const std::string& key, const std::string& value) override {
    blobs[key] = value;
    return Status::Ok();
  }
  std::optional<ClusterRecord> saved;
  std::map<std::string, std::string> blobs;
  int saves = 0;
};

constexpr int64_t kMs = 1000;

class ArbiterTest : public ::testing::Test {
 protected:
  ArbiterTest() : arbiter_(Options(), &store_) {}

  static ArbiterOptions Options() {
    ArbiterOptions o;
    o.replicas = {{"a", "tcp://127.0.0.1:1"}, {"b", "tcp://127.0.0.1:2"}};
    o.failure_timeout_ms = 100;  // suspicion comes before the 200 ms lease runs out
    o.initial_version = "1.0.0";
    return o;
  }

  StatusReport Report(const std::string& name, WireRole role, uint64_t epoch, uint64_t seq) {
    StatusReport s;
    s.replica = name;
    s.pid = name == "a" ? 100 : 200;
    s.role = role;
    s.epoch = epoch;
    s.applied_epoch = epoch;
    s.applied_seq = seq;
    s.sent_us = now_;
    s.healthy = true;
    s.holds = true;
    return s;
  }

  // Both processes started and reporting; a elected at epoch 1; b caught up.
  void BootPair() {
    ASSERT_TRUE(arbiter_.Recover(now_).ok());
    arbiter_.OnProcessStarted("a", 100, now_);
    arbiter_.OnProcessStarted("b", 200, now_);
    ReportBothFor(400, WireRole::kOutOfService);
    ASSERT_EQ(arbiter_.record().active, "a");
    ASSERT_EQ(arbiter_.record().epoch, 1u);
    StatusReport a = Report("a", WireRole::kActive, 1, 0);
    a.peer_caught_up = true;
    a.solo_request_id = 1;
    arbiter_.OnStatus(a, now_);
    arbiter_.OnStatus(Report("b", WireRole::kStandby, 1, 0), now_);
    ASSERT_TRUE(arbiter_.record().in_sync.at("b"));
  }

  // Both replicas report every 20 ms for `ms`.
  void ReportBothFor(int64_t ms, WireRole role) {
    for (int64_t t = 0; t < ms; t += 20) {
      arbiter_.OnStatus(Report("a", role, 0, 0), now_);
      arbiter_.OnStatus(Report("b", role, 0, 0), now_);
      Advance(20);
      if (!arbiter_.record().active.empty()) return;
    }
  }

  // The acks-cut tests' reports: b in sync and following a's stream; a asking to go solo.
  std::pair<StatusReport, StatusReport> AcksCutReports() {
    StatusReport b = Report("b", WireRole::kStandby, 1, 5);
    b.in_sync = true;
    b.follows_active = true;
    StatusReport a = Report("a", WireRole::kActive, 1, 9);
    a.want_solo = true;
    a.solo_request_id = 2;
    return {a, b};
  }

  void Advance(int64_t ms) {
    now_ += ms * kMs;
    arbiter_.OnTick(now_);
  }

  std::optional<Assignment> LastAssignmentTo(const std::string& name) {
    std::optional<Assignment> out;
    for (auto& action : arbiter_.TakeActions()) {
      if (auto* s = std::get_if<SendAssignment>(&action); s && s->replica == name) {
        out = s->assignment;
      }
    }
    return out;
  }

  MemoryRecordStore store_;
  Arbiter arbiter_;
  int64_t now_ = 1000000;
};

TEST_F(ArbiterTest, ElectsTheFirstActiveAndRecordsTheStandbyOutOfSync) {
  ASSERT_TRUE(arbiter_.Recover(now_).ok());
  arbiter_.OnProcessStarted("a", 100, now_);
  arbiter_.OnProcessStarted("b", 200, now_);
  ReportBothFor(200, WireRole::kOutOfService);
  EXPECT_EQ(arbiter_.record().epoch, 0u) << "elected before the startup grace";
  ReportBothFor(200, WireRole::kOutOfService);
  EXPECT_EQ(arbiter_.record().active, "a");
  EXPECT_FALSE(arbiter_.record().in_sync.at("b"));
  ASSERT_TRUE(store_.saved.has_value());
  EXPECT_EQ(store_.saved->epoch, 1u);
  auto a = LastAssignmentTo("a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->role, WireRole::kActive);
  EXPECT_EQ(a->solo_grant_id, 0u);
  EXPECT_FALSE(a->standby_in_sync);
}

TEST_F(ArbiterTest, ACrashedActiveIsReplacedAtOnceByAnInSyncStandby) {
  BootPair();
  arbiter_.TakeActions();
  arbiter_.OnProcessExited("a", now_);
  EXPECT_EQ(arbiter_.record().active, "b");
  EXPECT_EQ(arbiter_.record().epoch, 2u);
  EXPECT_FALSE(arbiter_.record().in_sync.at("a"));
  EXPECT_EQ(store_.saved->epoch, 2u) << "persisted before it is announced";
  auto b = LastAssignmentTo("b");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->epoch, 2u);
  EXPECT_EQ(b->role, WireRole::kActive);
  EXPECT_TRUE(b->skip_lease_wait);
  ASSERT_EQ(arbiter_.transitions().back().kind, "crash failover");
}

// Both replicas SIGKILLed at one instant: their agent reaps both in one pass and reports
// both exits at once. Taken one by one, the first exit promoted the other replica, whose
// exit was in the same report: a dead process held the seat, in a new epoch that the
// survivor of the old one could never reach again.
TEST_F(ArbiterTest, BothExitsOfOneReportPromoteNeitherAndEitherIsElectedOnRestart) {
  for (const std::vector<std::string>& order :
       {std::vector<std::string>{"a", "b"}, std::vector<std::string>{"b", "a"}}) {
    SCOPED_TRACE(order.front() + " first");
    MemoryRecordStore store;
    Arbiter arbiter(Options(), &store);
    ASSERT_TRUE(arbiter.Recover(now_).ok());
    arbiter.OnProcessStarted("a", 100, now_);
    arbiter.OnProcessStarted("b", 200, now_);
    for (int64_t t = 0; t < 400 && arbiter.record().active.empty(); t += 20) {
      arbiter.OnStatus(Report("a", WireRole::kOutOfService, 0, 0), now_);
      arbiter.OnStatus(Report("b", WireRole::kOutOfService, 0, 0), now_);
      now_ += 20 * kMs;
      arbiter.OnTick(now_);
    }
    ASSERT_EQ(arbiter.record().active, "a");
    StatusReport a = Report("a", WireRole::kActive, 1, 7);
    a.peer_caught_up = true;
    a.solo_request_id = 1;
    arbiter.OnStatus(a, now_);
    arbiter.OnStatus(Report("b", WireRole::kStandby, 1, 7), now_);
    ASSERT_TRUE(arbiter.record().in_sync.at("b"));

    arbiter.OnProcessesExited(order, now_);
    EXPECT_TRUE(arbiter.record().active.empty()) << "a dead replica was promoted";
    EXPECT_EQ(arbiter.record().epoch, 1u);
    EXPECT_TRUE(arbiter.transitions().size() == 1) << arbiter.transitions().back().kind;
    EXPECT_FALSE(arbiter.replicas().at("a").process_alive);
    EXPECT_FALSE(arbiter.replicas().at("b").process_alive);

    // Whichever comes back first holds every acknowledged write: b, the in-sync standby.
    now_ += 100 * kMs;
    arbiter.OnProcessStarted("b", 201, now_);
    StatusReport b = Report("b", WireRole::kOutOfService, 1, 7);
    b.pid = 201;
    arbiter.OnStatus(b, now_);
    arbiter.OnTick(now_);
    EXPECT_EQ(arbiter.record().active, "b");
    EXPECT_EQ(arbiter.record().epoch, 2u);
  }
}

// Both killed, but their exits reported a few ms apart: the first promotes the other, dead
// and not yet reaped. The coordinator cannot tell that one from a promoted replica that
// served for a while alone (a promotion is solo request 0 of its epoch) and then died, so
// the seat stays with it: the replica it replaced is not elected when it comes back first,
// and the promoted one is when it returns (seed 499 lost writes the other way round).
TEST_F(ArbiterTest, APromotedReplicaThatDiesKeepsTheSeatWhateverItAcknowledged) {
  BootPair();
  arbiter_.OnProcessExited("a", now_);
  ASSERT_EQ(arbiter_.record().active, "b");
  ASSERT_EQ(arbiter_.record().epoch, 2u);
  Advance(4);
  arbiter_.OnProcessExited("b", now_);
  EXPECT_TRUE(arbiter_.record().active.empty());
  EXPECT_EQ(arbiter_.record().last_active, "b");
  EXPECT_EQ(store_.saved->last_active, "b");

  Advance(100);
  arbiter_.OnProcessStarted("a", 101, now_);
  StatusReport a = Report("a", WireRole::kOutOfService, 1, 0);
  a.pid = 101;
  for (int i = 0; i < 50; ++i) {
    arbiter_.OnStatus(a, now_);
    Advance(20);
  }
  EXPECT_TRUE(arbiter_.record().active.empty()) << "a lacks what b may have acknowledged";

  arbiter_.OnProcessStarted("b", 102, now_);
  StatusReport b = Report("b", WireRole::kOutOfService, 2, 3);
  b.pid = 102;
  arbiter_.OnStatus(b, now_);
  Advance(1);
  EXPECT_EQ(arbiter_.record().active, "b");
  EXPECT_EQ(arbiter_.record().epoch, 3u);
}

// A replica the arbiter has asked to stop is on its way down (SIGTERM, then SIGKILL after
// its grace): not promoted when the active dies meanwhile, although it still reports.
TEST_F(ArbiterTest, AStandbyBeingStoppedIsNotPromotedWhenTheActiveExits) {
  BootPair();
  arbiter_.SetReplicaVersion("b", "2.0.0");  // its reports name no version: only the stop tells
  bool stopped = false;
  for (const auto& action : arbiter_.TakeActions()) {
    if (auto* stop = std::get_if<StopReplica>(&action)) stopped |= stop->replica == "b";
  }
  ASSERT_TRUE(stopped);
  arbiter_.OnStatus(Report("b", WireRole::kStandby, 1, 0), now_);
  std::string why;
  EXPECT_FALSE(arbiter_.Promotable("b", now_, &why));
  EXPECT_EQ(why, "b: being stopped");
  arbiter_.OnProcessExited("a", now_);
  EXPECT_TRUE(arbiter_.record().active.empty());
  EXPECT_EQ(arbiter_.record().epoch, 1u);
}

TEST_F(ArbiterTest, AnOutOfSyncStandbyIsNeverPromoted) {
  BootPair();
  StatusReport a = Report("a", WireRole::kActive, 1, 10);
  a.want_solo = true;
  a.solo_request_id = 2;
  arbiter_.OnStatus(a, now_);
  EXPECT_FALSE(arbiter_.record().in_sync.at("b"));
  auto grant = LastAssignmentTo("a");
  ASSERT_TRUE(grant.has_value());
  EXPECT_EQ(grant->solo_grant_id, 2u);
  arbiter_.OnProcessExited("a", now_);
  EXPECT_EQ(arbiter_.record().epoch, 1u);
  EXPECT_TRUE(arbiter_.record().active.empty());
  // The old active restarts and, holding every acknowledged write, is elected again.
  Advance(60);
  arbiter_.OnProcessStarted("a", 101, now_);
  StatusReport restarted = Report("a", WireRole::kOutOfService, 1, 10);
  restarted.pid = 101;
  arbiter_.OnStatus(restarted, now_);
  arbiter_.OnStatus(Report("b", WireRole::kStandby, 1, 3), now_);
  Advance(1);
  EXPECT_EQ(arbiter_.record().active, "a");
  EXPECT_EQ(arbiter_.record().epoch, 2u);
}

// Found by the simulator: a report sent just before the process died and read after its
// exit used to mark it alive again, and a process believed alive is never restarted.
TEST_F(ArbiterTest, ALateReportFromAnExitedProcessDoesNotReviveIt) {
  BootPair();
  arbiter_.OnProcessExited("b", now_);
  arbiter_.OnStatus(Report("b", WireRole::kStandby, 1, 5), now_);  // pid 200, already gone
  EXPECT_FALSE(arbiter_.replicas().at("b").process_alive);
  Advance(100);
  arbiter_.OnTick(now_);
  bool restarted = false;
  for (const auto& action : arbiter_.TakeActions()) {
    if (auto* start = std::get_if<StartReplica>(&action)) restarted |= start->replica == "b";
  }
  EXPECT_TRUE(restarted);
}

// A replica that cannot start (its disk full, say) is restarted after 50 ms, then after
// twice as long at each further crash in the window, up to the maximum, so that a passing
// cause does not spend its restarts within a second.
TEST_F(ArbiterTest, EachFurtherCrashInTheWindowDoublesTheRestartDelayUpToTheMaximum) {
  BootPair();
  std::vector<int64_t> delays_ms;
  for (int32_t pid = 201; pid <= 205; ++pid) {
    arbiter_.OnProcessExited("b", now_);
    int64_t crashed_us = now_;
    bool started = false;
    for (int i = 0; i < 300 && !started; ++i) {
      Advance(5);
      for (const auto& action : arbiter_.TakeActions()) {
        if (auto* start = std::get_if<StartReplica>(&action)) started |= start->replica == "b";
      }
    }
    ASSERT_TRUE(started) << "crash " << delays_ms.size() + 1;
    delays_ms.push_back((now_ - crashed_us) / kMs);
    arbiter_.OnProcessStarted("b", pid, now_);
  }
  // Each restart comes in the first tick at or after its due time (ticks of 5 ms).
  EXPECT_EQ(delays_ms, (std::vector<int64_t>{50, 100, 200, 400, 800}));
  arbiter_.OnProcessExited("b", now_);  // the sixth crash in the window is one too many
  EXPECT_TRUE(arbiter_.record().failed.count("b") && arbiter_.record().failed.at("b"));
}

TEST_F(ArbiterTest, AssignmentsCarryTheRecordedSoloRequestId) {
  BootPair();
  StatusReport a = Report("a", WireRole::kActive, 1, 10);
  a.want_solo = true;
  a.solo_request_id = 4;
  arbiter_.OnStatus(a, now_);
  auto grant = LastAssignmentTo("a");
  ASSERT_TRUE(grant.has_value());
  EXPECT_EQ(grant->sync_id, 4u);  // a restarted active numbers its requests above it
}

TEST_F(ArbiterTest, AHungActiveIsReplacedOnlyAfterItsLeaseRanOut) {
  BootPair();
  int64_t last_report = now_;
  arbiter_.OnStatus(Report("a", WireRole::kActive, 1, 5), now_);  // renews a's lease
  for (int i = 0; i < 4; ++i) {
    Advance(20);
    arbiter_.OnStatus(Report("b", WireRole::kStandby, 1, 5), now_);
  }
  EXPECT_EQ(arbiter_.record().epoch, 1u) << "80 ms of silence is not yet a failure";
  Advance(40);
  arbiter_.OnStatus(Report("b", WireRole::kStandby, 1, 5), now_);
  EXPECT_EQ(arbiter_.record().epoch, 1u) << "suspected, but its lease still runs";
  while (now_ + 10 * kMs < last_report + 200 * kMs) {
    Advance(10);
    arbiter_.OnStatus(Report("b", WireRole::kStandby, 1, 5), now_);
  }
  Advance(10);
  EXPECT_EQ(arbiter_.record().active, "b");
  EXPECT_EQ(arbiter_.record().epoch, 2u);
  EXPECT_EQ(arbiter_.transitions().back().kind, "hang failover");
  auto b = LastAssignmentTo("b");
  ASSERT_TRUE(b.has_value());
  EXPECT_FALSE(b->skip_lease_wait);
  // The deposed active wakes up: it is told to follow b in epoch 2 and gets no lease.
  arbiter_.OnStatus(Report("a", WireRole::kActive, 1, 7), now_);
  auto a = LastAssignmentTo("a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->epoch, 2u);
  EXPECT_EQ(a->role, WireRole::kStandby);
  EXPECT_EQ(a->lease_echo_us, 0);
}

// The coordinator's loop waits for NextTickUs: at rest the active's silence deadline; once
// suspected, the end of its lease; then, electing, a tick soon.
TEST_F(ArbiterTest, ItsNextTickIsTheActivesSilenceDeadlineThenTheEndOfItsLease) {
  BootPair();
  arbiter_.TakeActions();
  const int64_t last_report = now_;
  arbiter_.OnStatus(Report("a", WireRole::kActive, 1, 5), now_);  // renews a's lease
  arbiter_.TakeActions();
  arbiter_.OnTick(now_);
  EXPECT_EQ(arbiter_.NextTickUs(now_), last_report + 100 * kMs);  // failure_timeout_ms
  Advance(20);
  arbiter_.OnStatus(Report("b", WireRole::kStandby, 1, 5), now_);
  arbiter_.TakeActions();
  EXPECT_EQ(arbiter_.NextTickUs(now_), last_report + 100 * kMs);  // b's reports move nothing
  now_ = last_report + 100 * kMs;
  arbiter_.OnTick(now_);  // suspected: the failover waits for the lease granted at last_report
  arbiter_.TakeActions();
  EXPECT_EQ(arbiter_.NextTickUs(now_), last_report + 200 * kMs);
  now_ = last_report + 200 * kMs;
  arbiter_.OnStatus(Report("b", WireRole::kStandby, 1, 5), now_);  // b still reports
  arbiter_.OnTick(now_);
  EXPECT_EQ(arbiter_.record().active, "b");
}

// A one-way cut: the active is heard but hears nobody, so its lease is never renewed and it
// serves nothing. Its reports say so; it is replaced like a silent one.
TEST_F(ArbiterTest, AnActiveThatReportsButHoldsNoLeaseIsReplacedAfterItsLeaseRanOut) {
  BootPair();
  arbiter_.OnStatus(Report("a", WireRole::kActive, 1, 5), now_);  // its last renewal
  const int64_t last_grant = now_;
  int64_t lease_until = now_ + 200 * kMs;
  while (now_ < lease_until + 90 * kMs) {
    Advance(10);
    StatusReport a = Report("a", WireRole::kActive, 1, 5);
    a.lease_lost_ms = now_ > lease_until ? static_cast<uint64_t>((now_ - lease_until) / kMs) : 0;
    arbiter_.OnStatus(a, now_);
    arbiter_.OnStatus(Report("b", WireRole::kStandby, 1, 5), now_);
  }
  EXPECT_EQ(arbiter_.record().epoch, 1u) << "without a lease for 90 ms: not yet a failure";
  for (int i = 0; i < 60 && arbiter_.record().epoch == 1; ++i) {
    Advance(10);
    StatusReport a = Report("a", WireRole::kActive, 1, 5);
    a.lease_lost_ms = static_cast<uint64_t>((now_ - lease_until) / kMs);
    arbiter_.OnStatus(a, now_);
    arbiter_.OnStatus(Report("b", WireRole::kStandby, 1, 5), now_);
  }
  EXPECT_EQ(arbiter_.record().active, "b");
  EXPECT_EQ(arbiter_.record().epoch, 2u);
  EXPECT_EQ(arbiter_.transitions().back().kind, "hang failover");
  // Every assignment a got renewed its lease, a was only deaf to them: the promotion
  // still waits out the last lease the arbiter granted.
  EXPECT_GE(arbiter_.transitions().back().promoted_us, last_grant + 200 * kMs);
}

// The other one-way cut: the active's stream reaches its standby, the acks do not come
// back. Solo would strand the in-sync standby out of sync; it is refused while the standby
// follows, so the silent active is replaced by it.
TEST_F(ArbiterTest, NoSoloWhileTheInSyncStandbyFollowsTheActivesStream) {
  BootPair();
  StatusReport b = Report("b", WireRole::kStandby, 1, 5);
  b.in_sync = true;
  b.follows_active = true;
  arbiter_.OnStatus(b, now_);
  StatusReport a = Report("a", WireRole::kActive, 1, 5);
  a.want_solo = true;
  a.solo_request_id = 2;
  arbiter_.OnStatus(a, now_);
  EXPECT_TRUE(arbiter_.record().in_sync.at("b")) << "granted solo though b follows a";
  EXPECT_EQ(arbiter_.record().solo_grant_id, 0u);
  Advance(20);
  b.follows_active = false;  // now b hears nothing from a either: a real standby problem
  arbiter_.OnStatus(b, now_);
  a.sent_us = now_;
  arbiter_.OnStatus(a, now_);
  EXPECT_FALSE(arbiter_.record().in_sync.at("b"));
  EXPECT_EQ(arbiter_.record().solo_grant_id, 2u);
}

// The same cut held: the active hears nothing from its standby for twice the failure
// timeout while the standby follows its stream. The standby, which has the whole stream,
// takes over after the active's lease, instead of writes stalling for as long as the cut.
TEST_F(ArbiterTest, AnActiveThatHearsNothingWhileItsStandbyFollowsIsReplaced) {
  BootPair();
  auto [a, b] = AcksCutReports();
  for (int i = 0; i < 30 && arbiter_.record().active == "a"; ++i) {  // 600 ms
    a.peer_silent_ms = 120 + 20 * i;  // past the ack timeout, then 2 x 100 ms
    b.sent_us = a.sent_us = now_;
    arbiter_.OnStatus(b, now_);
    arbiter_.OnStatus(a, now_);
    EXPECT_EQ(arbiter_.record().solo_grant_id, 0u);
    Advance(20);
  }
  EXPECT_EQ(arbiter_.record().active, "b");
  EXPECT_EQ(arbiter_.record().epoch, 2u);
  EXPECT_EQ(arbiter_.transitions().back().kind, "hang failover");
  // 200 ms without hearing b (twice the failure timeout), then the last lease granted
  // (200 ms) waited out.
  EXPECT_GE(arbiter_.transitions().back().promoted_us - arbiter_.transitions().back().detected_us,
            180 * kMs);
}

// A standby that is only late (the active hears it within twice the failure timeout, here
// every 160 ms) is no cut: the active is not replaced, however long its solo request is refused.
TEST_F(ArbiterTest, AnActiveThatHearsItsStandbyLateIsNotReplaced) {
  BootPair();
  auto [a, b] = AcksCutReports();
  for (int i = 0; i < 100; ++i) {                               // 2 s
    a.peer_silent_ms = i % 8 < 4 ? 0 : 110 + 20 * (i % 8 - 4);  // heard every 160 ms
    b.sent_us = a.sent_us = now_;
    arbiter_.OnStatus(b, now_);
    arbiter_.OnStatus(a, now_);
    Advance(20);
  }
  EXPECT_EQ(arbiter_.record().active, "a");
  EXPECT_EQ(arbiter_.record().epoch, 1u);
}

TEST_F(ArbiterTest, SwitchoverDrainsThenPromotesTheStandby) {
  BootPair();
  ASSERT_TRUE(arbiter_.RequestSwitchover(now_).ok());
  EXPECT_EQ(arbiter_.RequestSwitchover(now_).code(), Code::kFailedPrecondition);
  auto a = LastAssignmentTo("a");
  ASSERT_TRUE(a.has_value() && a->drain);
  StatusReport drained = Report("a", WireRole::kActive, 1, 42);
  drained.demoted = true;
  drained.peer_acked_seq = 42;
  arbiter_.OnStatus(drained, now_);
  EXPECT_EQ(arbiter_.record().active, "b");
  EXPECT_EQ(arbiter_.switchover_state(), "done");
}

TEST_F(ArbiterTest, AQuiesceHoldsTheActivesRequestsWithoutDrainingIt) {
  BootPair();
  arbiter_.SetQuiesce(true);
  auto a = LastAssignmentTo("a");
  ASSERT_TRUE(a.has_value());
  EXPECT_TRUE(a->hold);
  EXPECT_FALSE(a->drain);  // clients are not sent away: their requests wait
  arbiter_.SetQuiesce(false);
  a = LastAssignmentTo("a");
  ASSERT_TRUE(a.has_value());
  EXPECT_FALSE(a->hold);
  EXPECT_EQ(arbiter_.record().active, "a");
}

TEST_F(ArbiterTest, AQuiesceDrainsAnActiveOfAReleaseThatCannotHold) {
  BootPair();
  StatusReport old_release = Report("a", WireRole::kActive, 1, 0);
  old_release.holds = false;
  arbiter_.OnStatus(old_release, now_);
  arbiter_.SetQuiesce(true);
  auto a = LastAssignmentTo("a");
  ASSERT_TRUE(a.has_value());
  EXPECT_FALSE(a->hold);
  EXPECT_TRUE(a->drain);
  arbiter_.SetQuiesce(false);
  a = LastAssignmentTo("a");
  ASSERT_TRUE(a.has_value());
  EXPECT_FALSE(a->drain);
}

TEST_F(ArbiterTest, TooManyCrashesMarkAReplicaFailed) {
  BootPair();
  for (int i = 0; i < 6; ++i) {
    arbiter_.OnProcessExited("b", now_);
    Advance(60);
    arbiter_.OnProcessStarted("b", 300 + i, now_);
  }
  EXPECT_TRUE(arbiter_.record().failed.at("b"));
  EXPECT_FALSE(arbiter_.Promotable("b", now_));
}

// Found by the chaos suite (kill-coordinator-during-fallback): the coordinator recorded b's
// new version and was killed before it stopped b. Restarted, it adopted b still running the
// old version, and the campaign waited forever for b to report the version it was assigned.
TEST_F(ArbiterTest, AnAdoptedReplicaOnAnotherVersionThanAssignedIsRestarted) {
  BootPair();
  store_.saved->replica_version["b"] = "2.0.0";  // persisted; the stop never happened
  Arbiter restarted(Options(), &store_);
  ASSERT_TRUE(restarted.Recover(now_).ok());
  auto stops = [&] {
    int n = 0;
    for (const auto& action : restarted.TakeActions())
      n += std::holds_alternative<StopReplica>(action);
    return n;
  };
  StatusReport b = Report("b", WireRole::kStandby, 1, 5);
  b.version = "1.0.0";
  restarted.OnStatus(b, now_);
  EXPECT_EQ(stops(), 1);
  restarted.OnStatus(b, now_);
  EXPECT_EQ(stops(), 0) << "stopped once, not on every report";
  StatusReport a = Report("a", WireRole::kActive, 1, 5);
  a.version = "1.0.0";
  restarted.OnStatus(a, now_);
  EXPECT_EQ(stops(), 0) << "a runs what it is assigned";
  restarted.OnProcessExited("b", now_);
  now_ += 100 * kMs;
  restarted.OnTick(now_);
  bool started = false;
  for (const auto& action : restarted.TakeActions()) {
    if (auto* start = std::get_if<StartReplica>(&action)) started |= start->replica == "b";
  }
  EXPECT_TRUE(started);
}

// A restarted coordinator takes a replica's status before its agent's report adopts the
// same process: the adoption must keep that status (a resumed Soak read "replica b is not
// reporting" between the two).
TEST_F(ArbiterTest, AnAgentAdoptingAProcessAlreadyReportingKeepsItsReport) {
  BootPair();
  Arbiter restarted(Options(), &store_);
  ASSERT_TRUE(restarted.Recover(now_).ok());
  restarted.OnStatus(Report("b", WireRole::kStandby, 1, 5), now_);
  ASSERT_TRUE(restarted.RecentReport("b", now_).has_value());
  restarted.OnProcessStarted("b", 200, now_);
  EXPECT_TRUE(restarted.RecentReport("b", now_).has_value()) << "the same process, adopted";
  restarted.OnProcessStarted("b", 201, now_);
  EXPECT_FALSE(restarted.RecentReport("b", now_).has_value()) << "a new process reports anew";
}

TEST_F(ArbiterTest, StaleReportsFromAnUnknownReplicaChangeNothing) {
  BootPair();
  ClusterRecord before = arbiter_.record();
  arbiter_.OnStatus(Report("mallory", WireRole::kActive, 99, 1), now_);
  EXPECT_EQ(arbiter_.record(), before);
}

// Finalizing cannot be undone: a command that would lower the cluster version is a bug in
// the caller, and the arbiter stops (an assertion) before recording it.
TEST_F(ArbiterTest, TheClusterVersionOnlyRises) {
  struct Stopped {
    std::string what;
  };
  SetFatalHandler([](FatalKind, const std::string& what) { throw Stopped{what}; });
  BootPair();
  arbiter_.SetReplicaVersion("a", "2.0.0");
  arbiter_.SetReplicaVersion("b", "2.0.0");
  arbiter_.SetClusterVersion("2.0.0");
  EXPECT_EQ(store_.saved->cluster_version, "2.0.0");
  std::string what;
  try {
    arbiter_.SetClusterVersion("1.0.0");
  } catch (const Stopped& stopped) {
    what = stopped.what;
  }
  SetFatalHandler(nullptr);
  EXPECT_NE(what.find("the cluster version only rises"), std::string::npos) << what;
  EXPECT_EQ(store_.saved->cluster_version, "2.0.0") << "nothing recorded";
}

// Issue 20: a status at epoch 2^64-1 was adopted and persisted; the next promotion's
// ++epoch wrapped to 0 and every later assignment was refused as stale, across restarts.
TEST_F(ArbiterTest, AStatusFarAboveTheRecordedEpochIsRefusedAndNothingIsPersisted) {
  BootPair();
  const int saves = store_.saves;
  StatusReport forged = Report("b", WireRole::kStandby, UINT64_MAX, 0);
  EXPECT_NE(arbiter_.OnStatus(forged, now_).find("epoch 18446744073709551615 is more than"),
            std::string::npos);
  forged.epoch = 1 + ArbiterOptions{}.epoch_step_max + 1;
  EXPECT_FALSE(arbiter_.OnStatus(forged, now_).empty());
  EXPECT_EQ(arbiter_.counters().epochs_refused, 2u);
  EXPECT_EQ(arbiter_.record().epoch, 1u);
  EXPECT_EQ(store_.saves, saves) << "nothing persisted";
  // The genuine reports go on, and a failover takes the next epoch.
  EXPECT_EQ(arbiter_.OnStatus(Report("b", WireRole::kStandby, 1, 0), now_), "");
  arbiter_.OnProcessExited("a", now_);
  EXPECT_EQ(arbiter_.record().active, "b");
  EXPECT_EQ(arbiter_.record().epoch, 2u);
}

// Issue 20: a forged status with a huge solo request id left the standby recorded out of
// sync for the rest of the epoch (the active's real requests all looked processed).
TEST_F(ArbiterTest, AHugeSoloRequestIdIsRefusedAndTheStandbyStaysPromotable) {
  BootPair();
  StatusReport forged = Report("a", WireRole::kActive, 1, 0);
  forged.want_solo = true;
  forged.solo_request_id = UINT64_MAX;
  EXPECT_NE(arbiter_.OnStatus(forged, now_).find("solo request id"), std::string::npos);
  EXPECT_EQ(arbiter_.counters().solo_request_ids_refused, 1u);
  EXPECT_TRUE(arbiter_.record().in_sync.at("b"));
  EXPECT_EQ(arbiter_.record().sync_id, 1u);
  // The real active's next request is still processed.
  StatusReport real = Report("a", WireRole::kActive, 1, 5);
  real.want_solo = true;
  real.solo_request_id = 2;
  EXPECT_EQ(arbiter_.OnStatus(real, now_), "");
  EXPECT_EQ(arbiter_.record().solo_grant_id, 2u);
  real.want_solo = false;
  real.peer_caught_up = true;
  real.solo_request_id = 3;
  arbiter_.OnStatus(real, now_);
  EXPECT_TRUE(arbiter_.record().in_sync.at("b"));
  arbiter_.OnProcessExited("a", now_);
  EXPECT_EQ(arbiter_.record().active, "b");
}

}  // namespace
}  // namespace duplex
