#include "chaos/checker.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>

namespace duplex {
namespace {

using nlohmann::json;

json Replica(const std::string& name, const std::string& version, const std::string& cluster,
             uint64_t epoch = 1, const std::string& role = "Standby/InSync", bool alive = true) {
  return {{"kind", "replica"},
          {"replica", name},
          {"alive", alive},
          {"epoch", epoch},
          {"role", role},
          {"version", version},
          {"cluster_version", cluster},
          {"t_us", 0}};
}

json Cluster(const std::string& cluster_version, uint64_t epoch = 1) {
  return {{"kind", "cluster"}, {"cluster_version", cluster_version}, {"epoch", epoch}};
}

TEST(CheckFeatureGate, AcceptsARollingUpgradeThatFinalizesAfterBothReplicasRunTheNewVersion) {
  std::vector<json> events = {Replica("a", "1.0.0", "1.0.0"),
                              Replica("b", "1.0.0", "1.0.0"),
                              Replica("b", "2.0.0", "1.0.0"),
                              Replica("a", "2.0.0", "1.0.0"),
                              Cluster("2.0.0"),
                              Replica("a", "2.0.0", "2.0.0"),
                              Replica("b", "2.0.0", "2.0.0")};
  EXPECT_TRUE(CheckFeatureGate(events).empty())
      << ::testing::PrintToString(CheckFeatureGate(events));
}

TEST(CheckFeatureGate, CatchesAReplicaEnablingFeaturesWhileItsPeerRunsTheOldVersion) {
  std::vector<json> events = {Replica("a", "1.0.0", "1.0.0"), Replica("b", "2.0.0", "2.0.0")};
  auto found = CheckFeatureGate(events);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_NE(found[0].find("replica b enables features up to 2.0.0 while a runs 1.0.0"),
            std::string::npos)
      << found[0];
}

TEST(CheckFeatureGate, CatchesTheClusterVersionRaisedEarly) {
  std::vector<json> events = {Replica("a", "1.0.0", "1.0.0"), Replica("b", "2.0.0", "1.0.0"),
                              Cluster("2.0.0")};
  auto found = CheckFeatureGate(events);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_NE(found[0].find("the cluster record enables features up to 2.0.0 while a runs 1.0.0"),
            std::string::npos)
      << found[0];
}

TEST(CheckFeatureGate, IgnoresADeadReplicasLastVersion) {
  std::vector<json> events = {Replica("a", "1.0.0", "1.0.0", 1, "Standby/InSync", false),
                              Replica("b", "2.0.0", "2.0.0")};
  EXPECT_TRUE(CheckFeatureGate(events).empty());
}

TEST(CheckEpochs, AcceptsFailoversThatRaiseTheEpoch) {
  std::vector<json> events = {Replica("a", "1.0.0", "", 1, "Active/Replicating"),
                              Replica("b", "1.0.0", "", 2, "Active/Solo"),
                              Replica("a", "1.0.0", "", 2, "Standby/CatchingUp"), Cluster("", 2)};
  EXPECT_TRUE(CheckEpochs(events).empty());
}

TEST(CheckEpochs, CatchesTwoActivesInOneEpochAndEpochsGoingBack) {
  std::vector<json> events = {Replica("a", "1.0.0", "", 3, "Active/Replicating"),
                              Replica("b", "1.0.0", "", 3, "Active/Solo"),
                              Replica("b", "1.0.0", "", 2, "Standby/InSync"), Cluster("", 3),
                              Cluster("", 1)};
  auto found = CheckEpochs(events);
  ASSERT_EQ(found.size(), 3u) << ::testing::PrintToString(found);
  EXPECT_NE(found[0].find("two actives in epoch 3: a and b"), std::string::npos);
  EXPECT_NE(found[1].find("replica b's epoch went back from 3 to 2"), std::string::npos);
  EXPECT_NE(found[2].find("the cluster record's epoch went back from 3 to 1"), std::string::npos);
}

OpRecord Op(int client, const std::string& op, const std::string& key, const std::string& value,
            OpOutcome outcome) {
  OpRecord r;
  r.client = client;
  r.op = op;
  r.key = key;
  r.value = value;
  r.outcome = outcome;
  return r;
}

ReadValue From(std::map<std::string, std::string> state) {
  return [state](const std::string& key) -> std::optional<std::string> {
    auto it = state.find(key);
    if (it == state.end()) return std::nullopt;
    return it->second;
  };
}

TEST(CheckHistory, AcceptsAHistoryWhoseEffectsAreAllVisibleOnce) {
  std::vector<OpRecord> history = {
      Op(0, "PUT", "k1", "v1", OpOutcome::kOk), Op(0, "INCR", "ctr-0", "1", OpOutcome::kOk),
      Op(0, "PUT", "k2", "v2", OpOutcome::kInfo), Op(0, "INCR", "ctr-0", "", OpOutcome::kInfo),
      Op(0, "INCR", "ctr-0", "3", OpOutcome::kOk)};
  CheckResult check = CheckHistory(history, From({{"k1", "v1"}, {"ctr-0", "3"}}), 10);
  EXPECT_TRUE(check.Clean()) << ::testing::PrintToString(check.problems);
  EXPECT_EQ(check.ok, 3u);
  EXPECT_EQ(check.info, 2u);
}

TEST(CheckHistory, NamesEachProblemByItsInvariant) {
  std::vector<OpRecord> history = {
      Op(0, "PUT", "k1", "v1", OpOutcome::kOk), Op(0, "PUT", "k2", "v2", OpOutcome::kFail),
      Op(1, "INCR", "ctr-1", "1", OpOutcome::kOk), Op(1, "INCR", "ctr-1", "3", OpOutcome::kOk)};
  CheckResult check = CheckHistory(history, From({{"k2", "v2"}, {"ctr-1", "5"}}), 10);
  EXPECT_EQ(check.lost, 1u);
  EXPECT_EQ(check.phantom, 1u);
  EXPECT_EQ(check.double_applied, 1u + 3u);  // a reply that skipped one, a counter 3 too high
  EXPECT_EQ(check.Details(Invariant::kLostWrites),
            std::vector<std::string>{"acknowledged PUT k1 is missing"});
  EXPECT_EQ(check.Details(Invariant::kPhantomWrites),
            std::vector<std::string>{"failed PUT k2 is visible"});
  EXPECT_EQ(check.Details(Invariant::kDoubleApplied),
            (std::vector<std::string>{"client 1 INCR returned 3 after 1",
                                      "counter of client 1 is 5, more than 2 increments sent"}));
}

TEST(CheckHistory, CountsLostIncrementsAndSpellsOutOnlyTheFirstProblems) {
  std::vector<OpRecord> history;
  for (int i = 0; i < 5; ++i) {
    history.push_back(Op(0, "PUT", "k" + std::to_string(i), "v", OpOutcome::kOk));
  }
  history.push_back(Op(0, "INCR", "ctr-0", "1", OpOutcome::kOk));
  CheckResult check = CheckHistory(history, From({}), 2);
  EXPECT_EQ(check.lost, 6u);
  ASSERT_EQ(check.problems.size(), 2u);
  EXPECT_EQ(check.problems[0].invariant, Invariant::kLostWrites);
  EXPECT_EQ(::testing::PrintToString(check.problems[0]),
            "lost-writes: acknowledged PUT k0 is missing");
}

TEST(CheckHistory, OnlyCountsOutcomesWithoutAFinalStateToRead) {
  std::vector<OpRecord> history = {Op(0, "PUT", "k1", "v1", OpOutcome::kOk),
                                   Op(0, "PUT", "k2", "v2", OpOutcome::kFail)};
  CheckResult check = CheckHistory(history, nullptr, 10);
  EXPECT_TRUE(check.Clean());
  EXPECT_EQ(check.ok, 1u);
  EXPECT_EQ(check.fail, 1u);
}

json Leadership(const std::string& coordinator, uint64_t term, bool acting, int64_t t_us) {
  return {{"kind", "leadership"},
          {"coordinator", coordinator},
          {"term", term},
          {"acting", acting},
          {"t_us", t_us}};
}

json At(json e, int64_t t_us) {
  e["t_us"] = t_us;
  return e;
}

TEST(CheckCoordinatorTerms, AcceptsALeaderThatStepsDownBeforeANewOneActs) {
  std::vector<CoordinatorLog> logs = {
      {"h1",
       {Leadership("h1", 10, true, 100), At(Cluster("1.0.0", 2), 150),
        Leadership("h1", 10, false, 1000)}},
      {"h2", {Leadership("h2", 17, true, 1500), At(Cluster("1.0.0", 3), 1600)}},
      {"h3", {}}};
  EXPECT_TRUE(CheckCoordinatorTerms(logs).empty());
  EXPECT_EQ(LeadershipChanges(logs), 1);
  EXPECT_EQ(LeaderFailoverMs(logs, {500}), (std::vector<double>{1.0}));
  EXPECT_EQ(LeaderFailoverMs(logs, {2000}), (std::vector<double>{-1}));
  std::vector<json> acting = ActingEvents(logs);
  ASSERT_EQ(acting.size(), 5u);
  EXPECT_EQ(acting[1]["epoch"], 2);
  EXPECT_EQ(acting[4]["epoch"], 3);
}

TEST(CheckCoordinatorTerms, CatchesTwoCoordinatorsInOneTermAndAThawedLeaderDecidingLate) {
  std::vector<CoordinatorLog> logs = {
      {"h1", {Leadership("h1", 10, true, 100), At(Cluster("1.0.0", 4), 3000)}},
      {"h2", {Leadership("h2", 10, true, 1500)}},
      {"h3", {Leadership("h3", 12, true, 2000), Leadership("h3", 11, true, 2500)}}};
  const std::vector<std::string> found = CheckCoordinatorTerms(logs);
  ASSERT_EQ(found.size(), 3u) << ::testing::PrintToString(found);
  EXPECT_EQ(found[0], "at t=1500us: h2 acts in term 10, in which h1 acted");
  EXPECT_EQ(found[1], "at t=2500us: h3 acts in term 11 after term 12");
  EXPECT_NE(found[2].find("h1 of term 10 logs a decision"), std::string::npos) << found[2];
}

TEST(CheckEpochsOfLogs, CatchesTwoActivesInOneEpochSeenByDifferentCoordinators) {
  std::vector<CoordinatorLog> logs = {{"h1", {Replica("a", "1.0.0", "1.0.0", 3, "Active")}},
                                      {"h2", {Replica("b", "1.0.0", "1.0.0", 3, "Active")}}};
  const std::vector<std::string> found = CheckEpochsOfLogs(logs);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0], "two actives in epoch 3 across the logs: a and b");
}

TEST(InvariantName, SpellsTheNamesReportsPrint) {
  std::vector<std::string> names;
  for (Invariant invariant : kInvariants) names.push_back(InvariantName(invariant));
  EXPECT_EQ(names, (std::vector<std::string>{"lost-writes", "phantom-writes", "double-applied",
                                             "one-active-per-epoch", "replicas-converge",
                                             "campaign-outcome", "feature-gate", "no-crash-reports",
                                             "one-acting-coordinator-per-term", "linearizable"}));
}

}  // namespace
}  // namespace duplex
