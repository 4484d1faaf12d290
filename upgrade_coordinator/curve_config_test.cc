#include "upgrade_coordinator/curve_config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "upgrade_coordinator/cluster_config.h"
#include "upgrade_coordinator/security_config.h"

namespace duplex {
namespace {

namespace fs = std::filesystem;

constexpr char kPair[] = R"(name: small
data_dir: /var/lib/small
admin_port: 7400
control_port: 7401
processor: {binary: /opt/kv, version: 2.1.0}
replicas:
  - {name: a, port: 7410, client_port: 7416, http_port: 7411}
  - {name: b, port: 7420, client_port: 7426, http_port: 7421}
)";

// The pair above with a key for every member, under a scratch keys directory.
class CurveConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/curve_config_test_" + std::to_string(::getpid());
    fs::remove_all(dir_);
    auto config = ParseClusterConfig(kPair, "/base");
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    config_ = *config;
    auto keys = InitClusterKeys(config_, dir_);
    ASSERT_TRUE(keys.ok()) << keys.status().ToString();
    config_.security.keys_dir = dir_;
    config_.security.public_keys = *keys;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string dir_;
  ClusterConfig config_;
};

TEST_F(CurveConfigTest, EachProcessGetsItsOwnMemberAndSecretKey) {
  auto coordinator = CoordinatorCurve(config_);
  ASSERT_TRUE(coordinator.ok()) << coordinator.status().ToString();
  EXPECT_EQ(coordinator->member, "coordinator.local");
  EXPECT_EQ(CurvePublicKey(coordinator->secret_key).value(),
            config_.security.public_keys.at("coordinator.local"));
  auto agent = AgentCurve(config_, "local");
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  EXPECT_EQ(agent->member, "agent.local");
  EXPECT_EQ(agent->public_keys, config_.security.public_keys);
}

TEST_F(CurveConfigTest, ReplicasAreToldTheirSecretFileTheKeysAndTheCoordinatorsMembers) {
  std::vector<std::string> args = ReplicaCurveArgs(config_, config_.replicas[1]);
  ASSERT_EQ(args.size(), 6u);
  EXPECT_EQ(args[0], "--curve-secret-file");
  EXPECT_EQ(args[1], dir_ + "/replica.b.secret");
  EXPECT_EQ(ParseCurveKeys(args[3]).value(), config_.security.public_keys);
  EXPECT_EQ(args[5], "coordinator.local");
  EXPECT_EQ(CoordinatorMembers(config_), std::vector<std::string>{"coordinator.local"});
}

TEST_F(CurveConfigTest, AMissingKeyOrAnOpenSecretFileIsNamed) {
  ClusterConfig missing = config_;
  missing.security.public_keys.erase("replica.a");
  auto check = CheckCurveConfig(missing);
  ASSERT_FALSE(check.ok());
  EXPECT_NE(check.message().find("no key for replica.a"), std::string::npos);
  ::chmod((dir_ + "/agent.local.secret").c_str(), 0640);
  auto agent = AgentCurve(config_, "local");
  ASSERT_FALSE(agent.ok());
  EXPECT_NE(agent.status().message().find("agent.local.secret has mode 0640"), std::string::npos);
}

TEST(CurveConfig, WithoutPublicKeysEverythingStaysPlain) {
  auto config = ParseClusterConfig(kPair, "/base");
  ASSERT_TRUE(config.ok());
  EXPECT_FALSE(CurveConfigured(*config));
  EXPECT_TRUE(ReplicaCurveArgs(*config, config->replicas[0]).empty());
  auto coordinator = CoordinatorCurve(*config);
  ASSERT_TRUE(coordinator.ok());
  EXPECT_FALSE(coordinator->on());
}

}  // namespace
}  // namespace duplex
