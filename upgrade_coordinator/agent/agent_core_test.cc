#include "upgrade_coordinator/agent/agent_core.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <limits>

namespace duplex {
namespace {

constexpr int64_t kMs = 1000;

class AgentCoreTest : public ::testing::Test {
 protected:
  AgentCoreTest() : core_(Options()) {}
  static AgentCoreOptions Options() {
    AgentCoreOptions o;
    o.host = "h1";
    o.alone_after_ms = 500;
    o.restart = {/*restarts_max=*/2, /*window_s=*/60, /*backoff_ms=*/50, /*backoff_max_ms=*/200};
    return o;
  }
  static DesiredState Want(uint64_t instance, bool run, const std::string& version = "1.0.0") {
    return {"h1", instance, {{"a", instance, run, "", version, {"--name", "a"}, 3000}}, true};
  }
  static DesiredState WantOfTerm(uint64_t term, uint64_t instance) {
    DesiredState d = Want(instance, true);
    d.term = term;
    return d;
  }
  // The starts asked for since the last call.
  std::vector<ReplicaSpec> Starts() {
    std::vector<ReplicaSpec> out;
    for (auto& a : core_.TakeActions()) {
      if (auto* s = std::get_if<StartProcess>(&a)) out.push_back(s->spec);
      if (auto* k = std::get_if<SignalProcess>(&a)) signals_.push_back(k->signal);
      if (auto* r = std::get_if<SendReport>(&a)) urgent_reports_ += r->urgent ? 1 : 0;
    }
    return out;
  }
  AgentCore core_;
  std::vector<int> signals_;
  int urgent_reports_ = 0;
};

TEST_F(AgentCoreTest, StartsWhatIsWantedOnceAndReportsItsExitAtOnce) {
  core_.OnDesired(Want(1, true), 0);
  ASSERT_EQ(Starts().size(), 1u);
  core_.OnStarted("a", 100, 1 * kMs);
  core_.OnDesired(Want(1, true), 2 * kMs);  // the same state again: nothing to do
  core_.OnTick(3 * kMs);
  EXPECT_TRUE(Starts().empty());
  urgent_reports_ = 0;
  core_.OnExited("a", 100, "was killed by signal 9", 4 * kMs);
  EXPECT_TRUE(Starts().empty());  // the coordinator decides the restart
  EXPECT_EQ(urgent_reports_, 1);
  auto p = core_.processes();
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].pid, 0);
  EXPECT_EQ(p[0].exits, 1u);
  EXPECT_EQ(p[0].exited_instance, 1u);
  core_.OnDesired(Want(2, true), 5 * kMs);  // the coordinator's restart: a new instance
  auto starts = Starts();
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0].instance, 2u);
}

TEST_F(AgentCoreTest, ANewerInstanceReplacesTheRunningOneAfterItStops) {
  core_.OnDesired(Want(1, true), 0);
  Starts();
  core_.OnStarted("a", 100, 0);
  core_.OnDesired(Want(2, true, "2.0.0"), 10 * kMs);
  EXPECT_TRUE(Starts().empty());
  EXPECT_EQ(signals_, std::vector<int>{SIGTERM});
  core_.OnTick(3010 * kMs);  // the grace is over
  Starts();
  EXPECT_EQ(signals_, (std::vector<int>{SIGTERM, SIGKILL}));
  core_.OnExited("a", 100, "was killed by signal 9", 3020 * kMs);
  auto starts = Starts();
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0].version, "2.0.0");
}

TEST_F(AgentCoreTest, AloneItRestartsACrashWithBackoffAndGivesUp) {
  core_.OnDesired(Want(1, true), 0);
  Starts();
  core_.OnStarted("a", 100, 0);
  int64_t now = 1000 * kMs;  // the coordinator silent for a second: alone
  int32_t pid = 100;
  std::vector<int64_t> restarts;
  for (int crash = 0; crash < 5; ++crash) {
    core_.OnExited("a", pid, "exited with 1", now);
    for (int64_t t = now; t < now + 1000 * kMs; t += 10 * kMs) {
      core_.OnTick(t);
      if (!Starts().empty()) {
        restarts.push_back((t - now) / kMs);
        core_.OnStarted("a", ++pid, t);
        now = t;
        break;
      }
    }
  }
  // Two restarts (restarts_max), 50 then 100 ms after the crash; the third crash is left.
  EXPECT_EQ(restarts, (std::vector<int64_t>{50, 100}));
}

TEST_F(AgentCoreTest, WithTheCoordinatorThereACrashWaitsForIt) {
  core_.OnDesired(Want(1, true), 0);
  Starts();
  core_.OnStarted("a", 100, 0);
  core_.OnExited("a", 100, "exited with 1", 10 * kMs);
  for (int64_t t = 10 * kMs; t < 400 * kMs; t += 10 * kMs) {
    core_.OnDesired(Want(1, true), t);  // it answers every report
    core_.OnTick(t);
  }
  EXPECT_TRUE(Starts().empty());
}

TEST_F(AgentCoreTest, AStopIsNoCrash) {
  core_.OnDesired(Want(1, true), 0);
  Starts();
  core_.OnStarted("a", 100, 0);
  core_.OnDesired(Want(1, false), 1 * kMs);
  core_.OnExited("a", 100, "exited with 0", 2 * kMs);
  for (int64_t t = 2 * kMs; t < 2000 * kMs; t += 10 * kMs) core_.OnTick(t);  // alone, too
  EXPECT_TRUE(Starts().empty());
}

TEST_F(AgentCoreTest, ItsNextTickIsAStopsKillOrTheMomentItIsAloneOrNone) {
  core_.OnDesired(Want(1, true), 0);
  ASSERT_EQ(Starts().size(), 1u);
  core_.OnStarted("a", 100, 1 * kMs);
  core_.OnTick(1 * kMs);
  EXPECT_EQ(core_.NextTickUs(1 * kMs), std::numeric_limits<int64_t>::max());  // nothing timed
  core_.OnDesired(Want(1, false), 2 * kMs);  // stopped with a 3000 ms grace
  Starts();
  EXPECT_EQ(core_.NextTickUs(2 * kMs), 3002 * kMs);  // its SIGKILL
  core_.OnTick(3002 * kMs);
  Starts();
  ASSERT_EQ(signals_.size(), 2u);
  EXPECT_EQ(signals_.back(), SIGKILL);
  core_.OnExited("a", 100, "was killed by signal 9", 3003 * kMs);
  core_.OnDesired(Want(2, true), 3004 * kMs);
  Starts();
  core_.OnStarted("a", 101, 3005 * kMs);
  core_.OnExited("a", 101, "was killed by signal 9", 3006 * kMs);  // a crash
  core_.OnTick(3006 * kMs);
  // Heard at 3004 ms: alone (500 ms) at 3504 ms, when it may restart the crash itself.
  EXPECT_EQ(core_.NextTickUs(3006 * kMs), 3504 * kMs);
}

TEST_F(AgentCoreTest, ARestartedAgentAdoptsWhatRunsInsteadOfStartingIt) {
  ReplicaProcess running;
  running.replica = "a";
  running.instance = 4;
  running.pid = 777;
  running.version = "1.0.0";
  core_.Restore(Want(4, true), {running}, 0);
  core_.OnDesired(Want(4, true), 1 * kMs);
  core_.OnTick(2 * kMs);
  EXPECT_TRUE(Starts().empty());
  EXPECT_EQ(core_.processes()[0].pid, 777);
}

// After a reboot the record's replicas are gone: the agent reports them down and waits for
// the coordinator's new instance (its backoff, its failed marks) instead of starting them.
TEST_F(AgentCoreTest, ARebootedAgentDoesNotStartAgainWhatItStartedBefore) {
  ReplicaProcess gone;
  gone.replica = "a";
  gone.instance = 4;
  gone.version = "1.0.0";
  core_.Restore(Want(4, true), {gone}, 0);
  for (int64_t t = 0; t < 2000 * kMs; t += 10 * kMs) core_.OnTick(t);  // alone, too
  EXPECT_TRUE(Starts().empty());
  EXPECT_EQ(core_.processes()[0].pid, 0);
  // Reported as an exit of instance 4: a coordinator that asked for 4 and never heard of
  // its pid (the host died first) would otherwise wait for it forever.
  EXPECT_EQ(core_.processes()[0].exited_instance, 4u);
  core_.OnDesired(Want(5, true), 2001 * kMs);
  ASSERT_EQ(Starts().size(), 1u);
}

// A leader deposed without knowing it (frozen, then thawed) still answers reports with its
// old view; the agent follows the new leader only.
TEST_F(AgentCoreTest, ADesiredStateOfAnOlderCoordinatorTermIsIgnored) {
  core_.OnDesired(WantOfTerm(5, 1), 0);
  ASSERT_EQ(Starts().size(), 1u);
  core_.OnStarted("a", 100, 0);
  EXPECT_EQ(core_.term(), 5u);
  core_.OnDesired(WantOfTerm(4, 2), 10 * kMs);  // the deposed leader restarts a
  core_.OnTick(10 * kMs);
  EXPECT_TRUE(Starts().empty());
  EXPECT_TRUE(signals_.empty());  // the running instance is not stopped for it either
  EXPECT_EQ(core_.desired().generation, 1u);
  EXPECT_EQ(core_.stale_term_states(), 1u);
  EXPECT_EQ(core_.term(), 5u);

  core_.OnDesired(WantOfTerm(6, 2), 20 * kMs);  // a newer leader does, and is followed
  core_.OnTick(20 * kMs);
  EXPECT_TRUE(Starts().empty());  // the old instance stops first
  EXPECT_EQ(core_.term(), 6u);
  EXPECT_EQ(signals_, std::vector<int>{SIGTERM});
  core_.OnExited("a", 100, "exited with 0", 30 * kMs);
  auto starts = Starts();
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0].instance, 2u);
}

// The deposed leader's messages are not the coordinator's word: an agent hearing only them
// is alone, and restarts a crash by itself.
TEST_F(AgentCoreTest, ADesiredStateOfAnOlderTermDoesNotCountAsHearingTheCoordinator) {
  core_.OnDesired(WantOfTerm(5, 1), 0);
  Starts();
  core_.OnStarted("a", 100, 0);
  core_.OnExited("a", 100, "exited with 1", 10 * kMs);
  bool restarted = false;
  for (int64_t t = 10 * kMs; t < 1000 * kMs && !restarted; t += 10 * kMs) {
    core_.OnDesired(WantOfTerm(4, 1), t);
    core_.OnTick(t);
    restarted = !Starts().empty();
  }
  EXPECT_TRUE(restarted);
  EXPECT_TRUE(core_.Alone(1000 * kMs));
}

// Term 0 is the embedded coordinator without etcd: it has no rivals and is always followed.
TEST_F(AgentCoreTest, ADesiredStateOfTermZeroIsAlwaysTaken) {
  core_.OnDesired(WantOfTerm(5, 1), 0);
  Starts();
  core_.OnStarted("a", 100, 0);
  core_.OnDesired(WantOfTerm(0, 2), 10 * kMs);
  core_.OnTick(10 * kMs);
  EXPECT_TRUE(Starts().empty());
  EXPECT_EQ(signals_, std::vector<int>{SIGTERM});
  EXPECT_EQ(core_.desired().generation, 2u);
  EXPECT_EQ(core_.stale_term_states(), 0u);
  EXPECT_EQ(core_.term(), 5u);  // the highest seen stays
}

// An instance only grows by one per start: a desired state jumping past the step bound is a
// forged or corrupted one (the coordinator's next +1 would wrap), refused whole.
TEST_F(AgentCoreTest, ADesiredInstanceFarAboveTheLastStartedIsRefusedAndCounted) {
  core_.OnDesired(Want(1, true), 0);
  ASSERT_EQ(Starts().size(), 1u);
  core_.OnStarted("a", 100, 1 * kMs);
  core_.OnDesired(Want(UINT64_MAX, true), 2 * kMs);
  core_.OnDesired(Want(1 + AgentCoreOptions{}.epoch_step_max + 1, true), 2 * kMs);
  core_.OnTick(3 * kMs);
  EXPECT_TRUE(Starts().empty());
  EXPECT_TRUE(signals_.empty()) << "the running instance is not stopped";
  EXPECT_EQ(core_.instances_refused(), 2u);
  EXPECT_EQ(core_.desired().replicas.front().instance, 1u);
  core_.OnDesired(Want(2, true), 4 * kMs);  // the real next instance
  EXPECT_EQ(signals_.size(), 0u);
  Starts();
  EXPECT_EQ(signals_, std::vector<int>{SIGTERM});
}

}  // namespace
}  // namespace duplex
