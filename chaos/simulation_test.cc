#include "chaos/simulation.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <map>
#include <string>

namespace duplex::sim {
namespace {

class Simulation : public ::testing::Test {
 protected:
  void SetUp() override { spdlog::set_level(spdlog::level::off); }
  void TearDown() override { spdlog::set_level(spdlog::level::info); }
};

SimResult RunSeed(uint64_t seed, MutantSet mutants = {}, bool trace = false, int coordinators = 0) {
  SimOptions o;
  o.seed = seed;
  o.trace = trace;
  o.mutants = mutants;
  o.coordinators = coordinators;
  return Simulate(o);
}

TEST_F(Simulation, TheSameSeedGivesTheSameTraceByteForByte) {
  for (int coordinators : {1, 3}) {
    SimResult first = RunSeed(77, {}, true, coordinators);
    SimResult again = RunSeed(77, {}, true, coordinators);
    ASSERT_FALSE(first.trace.empty());
    EXPECT_EQ(first.trace, again.trace);
    EXPECT_EQ(first.trace_hash, again.trace_hash);
    EXPECT_NE(RunSeed(78, {}, false, coordinators).trace_hash, first.trace_hash);
    // Three coordinators elect on the simulated etcd; the embedded one never does.
    EXPECT_EQ(first.trace.find("wins the leader key") != std::string::npos, coordinators == 3);
  }
}

TEST_F(Simulation, SeedsRunWithoutViolations) {
  uint64_t upgrades = 0;
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    SimResult r = RunSeed(seed);
    EXPECT_TRUE(r.violations.empty())
        << "seed " << seed << " [" << r.profile << "]: " << ::testing::PrintToString(r.violations)
        << "\nreplay: " << ReplayCommand(seed);
    EXPECT_GT(r.ops_ok, 100u) << "seed " << seed;
    upgrades += r.campaign == "none" ? 0 : 1;
  }
  EXPECT_GT(upgrades, 3u);  // the runs include rolling upgrades, not only steady state
}

// Seeds that once failed, one test each, named after what went wrong; each seed must
// still contain the event that made it fail (or it no longer tests the fix).
void ExpectSeedPasses(uint64_t seed, const std::string& event) {
  SimResult r = RunSeed(seed, {}, true);
  EXPECT_TRUE(r.violations.empty())
      << "seed " << seed << ": " << ::testing::PrintToString(r.violations);
  EXPECT_NE(r.trace.find(event), std::string::npos) << "seed " << seed << " lacks: " << event;
}

// The leader was killed between recording a campaign step and acting on it; another
// coordinator took over in a new term, resumed the campaign in that step from the record and
// completed. (Seed 974 tested this with one coordinator before the hosts came, seed 52 before
// the elections, seed 208, torn in UpgradeSecond, until the hot keys' operations changed the
// traces: this one is torn in Prepare.)
TEST_F(Simulation,
       Seed469_ALeaderTornBetweenRecordingAStepAndActingOnItIsSucceededByOneThatCompletes) {
  ExpectSeedPasses(469, "coordinator-h3 killed after persisting, before acting");
  ExpectSeedPasses(469, "coordinator-h2 leads, term 29");
  EXPECT_EQ(RunSeed(469).campaign, "completed");
}

// The agent of h2 was killed and restarted: it adopted b, still running, from its record,
// then stopped it and started the instance asked for once it had exited. (Seed 7902 tested
// the coordinator's adoption before agents did it; seed 21 this one until the solo refusal
// changed the traces, seed 24 until the hot keys' operations did.)
TEST_F(Simulation, Seed194_ARestartedAgentAdoptsItsReplicaAndSeesItsLaterExit) {
  ExpectSeedPasses(194, "agent h2 started adopts b pid 101 instance 1");
  ExpectSeedPasses(194, "agent h2 starts b instance 2 2.0.0 pid 103");
}

// Both replicas died; the arbiter waited for b (promoted an instant before), which the
// campaign had isolated and reloaded with a release that crashes at start.
TEST_F(Simulation, Seed3748_ARollBackWithNobodyServingForAStepPutsEveryReplicaBackInService) {
  ExpectSeedPasses(3748, "start b 2.0.0-crash");
}

// Aborted while a was starting with the new version: the reload back to the old one asked
// to stop a process that had not booted yet (a real SIGTERM stops a starting process too).
// (Seed 155 until the hot keys changed the traces.)
TEST_F(Simulation, Seed4_AStopSentToAProcessStillStartingStopsIt) {
  ExpectSeedPasses(4, "abort: ");
}

// Every host, coordinator and etcd fault is drawn by some of the first 80 seeds, both the embedded
// coordinator and three elected ones run, leadership changes hands, and the invariants hold
// through them all (one acting coordinator per term among them).
TEST_F(Simulation, HostCoordinatorAndEtcdFaultsAreInjectedAndSurvived) {
  std::map<std::string, uint64_t> faults;
  uint64_t embedded = 0, elected = 0, terms = 0;
  for (uint64_t seed = 1; seed <= 80; ++seed) {
    SimResult r = RunSeed(seed);
    EXPECT_TRUE(r.violations.empty())
        << "seed " << seed << ": " << ::testing::PrintToString(r.violations);
    for (const auto& [kind, n] : r.faults) faults[kind] += n;
    if (r.coordinators == 1) ++embedded;
    if (r.coordinators == 3) {
      ++elected;
      terms += r.terms;
    }
  }
  for (const char* kind :
       {"host-crash", "host-freeze", "host-isolate", "host-isolate-out", "agent-kill",
        "agent-restart", "coordinator-restart", "coordinator-leader-kill",
        "coordinator-leader-freeze", "coordinator-isolate-etcd", "coordinator-isolate-replicas",
        "etcd-quorum-loss", "etcd-member-kill", "control-cut"}) {
    EXPECT_GT(faults[kind], 0u) << kind;
  }
  EXPECT_GT(embedded, 5u);
  EXPECT_GT(elected, 30u);
  EXPECT_GT(terms, elected + 20);  // leaders changed, not only the first elected
}

// The embedded coordinator's disk fills up for a while: every write of its record fails. It
// stops acting (the write that failed ends its term) instead of exiting, decides nothing
// it could not record, and acts again once its disk works: the invariants hold and the
// run settles.
TEST_F(Simulation, TheEmbeddedCoordinatorsFullDiskStopsItActingUntilItCanWriteAgain) {
  uint64_t seeds_with_it = 0, faults = 0;
  for (uint64_t seed = 1; seed <= 400 && seeds_with_it < 2; ++seed) {
    SimResult r = RunSeed(seed);
    if (r.faults.count("coordinator-disk-full") == 0) continue;
    ++seeds_with_it;
    faults += r.faults.at("coordinator-disk-full");
    EXPECT_TRUE(r.violations.empty())
        << "seed " << seed << ": " << ::testing::PrintToString(r.violations);
  }
  EXPECT_EQ(seeds_with_it, 2u);
  EXPECT_GE(faults, seeds_with_it);
}

// h2, running b, is heard but hears nothing (no assignment, no desired state, no peer
// message) for 622 ms, during a campaign (seed 74 until the hot keys changed the traces).
TEST_F(Simulation, Seed11_AHostThatIsHeardButDoesNotHearKeepsOneActivePerEpoch) {
  ExpectSeedPasses(11, "host-isolate-in h2 for 622 ms");
}

// The leader on h2, frozen with its host, stopped leading at the thaw and led again on the
// record: its rollback reloaded b before b's agent had reported to the new leader state, and
// AgentLinks dropped that stop, so the arbiter waited for b's exit forever (the campaign hung
// rolling back). The stop now waits for the agent's report and stops the process it adopts.
TEST_F(Simulation, Seed110_ALeaderThatReloadsAReplicaBeforeItsAgentReportedStillStopsIt) {
  ExpectSeedPasses(110,
                   "coordinator-h2 stops leading, term 2: its lease is no longer surely valid");
  ExpectSeedPasses(110, "campaign rolling back RollingBack");
}

// The campaign started without distributing the package: b's agent cannot start the new
// release, the reload fails at start and the campaign rolls back.
TEST_F(Simulation, Seed5_AReleaseNotOnTheHostFailsToStartAndIsRolledBack) {
  ExpectSeedPasses(5, "cannot start b: package kv-2.0.0 is not on host h2");
  EXPECT_EQ(RunSeed(5).campaign, "rolled back");
}

// The checker's self-test: each deliberate bug must be caught by some seed. Seeds are
// tried in order up to a bound; the first that catches the bug ends the search.
uint64_t FirstSeedCatching(Mutant mutant, const std::string& invariant, uint64_t seeds_max) {
  for (uint64_t seed = 1; seed <= seeds_max; ++seed) {
    for (const auto& v : RunSeed(seed, {mutant}).violations) {
      if (v.starts_with(invariant)) return seed;
    }
  }
  return 0;
}

TEST_F(Simulation, CatchesAcknowledgingBeforeReplication) {
  EXPECT_NE(FirstSeedCatching(Mutant::kAckBeforeReplication, "lost-writes", 30), 0u);
}

TEST_F(Simulation, CatchesFeaturesEnabledEarly) {
  EXPECT_NE(FirstSeedCatching(Mutant::kEnableFlagsEarly, "feature-gate", 10), 0u);
}

TEST_F(Simulation, CatchesSkippedFsyncThroughPowerLoss) {
  EXPECT_NE(FirstSeedCatching(Mutant::kSkipFsync, "lost-writes", 10), 0u);
}

TEST_F(Simulation, CatchesTheSkippedEpochCheckOfALogTail) {
  EXPECT_NE(FirstSeedCatching(Mutant::kSkipEpochCheck, "replicas-converge", 150), 0u);
}

// A leader that goes on acting after its lease lapsed (frozen, or cut off from etcd) sends in
// a term below the one its successor already acts in.
TEST_F(Simulation, CatchesALeaderActingOnAStaleTerm) {
  EXPECT_NE(FirstSeedCatching(Mutant::kStaleLeader, "one-coordinator-per-term", 10), 0u);
}

// The read mutants, caught only by the linearizability check (the hot keys' reads); the
// final-state checks see nothing wrong with them.
bool CaughtAsNotLinearizable(uint64_t seed, Mutant mutant) {
  for (const auto& v : RunSeed(seed, {mutant}).violations) {
    if (v.starts_with("linearizable: ")) return true;
  }
  return false;
}

// A replica once active answers reads from its own state after its lease ran out or it was
// deposed: caught within tens of seeds (about one in ten).
TEST_F(Simulation, CatchesStaleReadsFromADeposedActive) {
  EXPECT_NE(FirstSeedCatching(Mutant::kStaleRead, "linearizable", 40), 0u);
}

// The active answers reads at once, before the writes they see are replicated: it shows
// only when such a write is then lost in a failover (the active cut from its standby and
// killed before it is granted solo) and a read at the new active misses it, about one seed
// in 300. These seeds do (found with `duplex sim --seeds 600 --mutant read-uncommitted`;
// a change to the simulator's draws moves them: search again. 389 and 495 did until the
// split clients and the control cuts came).
TEST_F(Simulation, CatchesReadsOfUncommittedWrites) {
  int caught = 0;
  for (uint64_t seed : {161, 166, 415})
    caught += CaughtAsNotLinearizable(seed, Mutant::kReadUncommitted);
  EXPECT_GT(caught, 0);
}

// A standby promoted without waiting out the old active's lease serves writes while the old
// active, cut from the coordinator both ways but still renewed by its standby's acks until
// the promotion, answers reads: a reader that keeps the old active sees a value the writers,
// routed to the new active by the coordinator's record, already replaced. About one seed in
// ten (the first is 6).
TEST_F(Simulation, CatchesPromotionWithoutLeaseWait) {
  EXPECT_NE(FirstSeedCatching(Mutant::kPromoteWithoutLeaseWait, "linearizable", 40), 0u);
}

}  // namespace
}  // namespace duplex::sim
