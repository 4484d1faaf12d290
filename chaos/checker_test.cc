#include "chaos/checker.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace duplex
