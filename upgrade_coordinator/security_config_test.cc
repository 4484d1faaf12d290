#include "upgrade_coordinator/security_config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "upgrade_coordinator/cluster_config.h"

namespace duplex {
namespace {

namespace fs = std::filesystem;

constexpr char kMinimal[] = R"(name: small
data_dir: /var/lib/small
admin_port: 7400
control_port: 7401
processor: {binary: /opt/kv, version: 2.1.0}
replicas:
  - {name: a, port: 7410, client_port: 7416, http_port: 7411}
  - {name: b, port: 7420, client_port: 7426, http_port: 7421}
)";

constexpr char kKey[] = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";

StatusOr<ClusterConfig> Parse(const std::string& text) { return ParseClusterConfig(text, "/base"); }

std::string ErrorOf(const std::string& text) {
  StatusOr<ClusterConfig> config = Parse(text);
  return config.ok() ? "parsed" : config.status().message();
}

TEST(SecurityConfig, AbsentSectionsKeepTheOpenDefaults) {
  StatusOr<ClusterConfig> config = Parse(kMinimal);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_FALSE(config->security.curve());
  EXPECT_TRUE(config->security.open_health);
  EXPECT_FALSE(config->security.tls.has_value());
  EXPECT_EQ(config->limits.client_connections_max, 4096u);
  EXPECT_EQ(config->limits.epoch_step_max, 1000000u);
}

TEST(SecurityConfig, ReadsEveryFieldAndResolvesPathsAgainstTheConfigsDirectory) {
  const std::string text = std::string(kMinimal) + R"(security:
  keys_dir: keys
  public_keys: {replica.a: ")" +
                           kKey + R"(", coordinator.local: ")" + kKey + R"("}
  admin_token_file: keys/admin.token
  open_health: false
  client_password_file: /etc/duplex/client.password
  tls: {cert_file: tls/s.crt, key_file: tls/s.key, ca_file: tls/ca.crt, client_certs: required, http: false}
  package_keys: [")" + std::string(64, 'a') +
                           R"("]
  package_dir: incoming
limits: {client_connections_max: 10, client_idle_timeout_ms: 1000, zmq_parts_max: 4}
)";
  StatusOr<ClusterConfig> config = Parse(text);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  const SecurityConfig& s = config->security;
  EXPECT_TRUE(s.curve());
  EXPECT_EQ(s.keys_dir, "/base/keys");
  EXPECT_EQ(s.public_keys.at("replica.a"), kKey);
  EXPECT_EQ(s.admin_token_file, "/base/keys/admin.token");
  EXPECT_FALSE(s.open_health);
  EXPECT_EQ(s.client_password_file, "/etc/duplex/client.password");
  ASSERT_TRUE(s.tls.has_value());
  EXPECT_EQ(s.tls->cert_file, "/base/tls/s.crt");
  EXPECT_EQ(s.tls->client_certs, ClientCerts::kRequired);
  EXPECT_TRUE(s.tls->client_port);
  EXPECT_FALSE(s.tls->http);
  EXPECT_EQ(s.package_keys.size(), 1u);
  EXPECT_EQ(s.package_dir, "/base/incoming");
  EXPECT_EQ(config->limits.client_connections_max, 10u);
  EXPECT_EQ(config->limits.client_idle_timeout_ms, 1000u);
  EXPECT_EQ(config->limits.zmq_parts_max, 4u);

  StatusOr<ClusterConfig> again = ParseClusterConfig(ClusterConfigToYaml(*config), "/elsewhere");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->security.public_keys, s.public_keys);
  EXPECT_EQ(again->security.tls->ca_file, "/base/tls/ca.crt");
  EXPECT_EQ(again->security.package_keys, s.package_keys);
  EXPECT_EQ(again->limits.zmq_parts_max, 4u);
}

TEST(SecurityConfig, NamesTheBadField) {
  const std::string base = kMinimal;
  EXPECT_EQ(ErrorOf(base + "security: {keys_dir: k, public_keys: {replica.a: short}}\n"),
            "security.public_keys.replica.a: must be a Z85 CURVE public key (40 characters), "
            "got 5 characters");
  EXPECT_EQ(ErrorOf(base + "security: {public_keys: {replica.a: \"" + kKey + "\"}}\n"),
            "security.keys_dir: required with public_keys (where each member's secret key is)");
  EXPECT_EQ(ErrorOf(base + "security: {tls: {cert_file: c, key_file: k, client_certs: all}}\n"),
            "security.tls.client_certs: must be none|optional|required, got \"all\"");
  EXPECT_EQ(
      ErrorOf(base + "security: {tls: {cert_file: c, key_file: k, client_certs: optional}}\n"),
      "security.tls.ca_file: required to verify client certificates");
  EXPECT_EQ(ErrorOf(base + "security: {package_keys: [abc]}\n"),
            "security.package_keys[0]: \"abc\" is not an Ed25519 public key (64 lowercase hex "
            "chars)");
  EXPECT_EQ(ErrorOf(base + "limits: {client_idle_timeout_ms: 0}\n"),
            "limits.client_idle_timeout_ms: must be a positive integer, got 0");
  EXPECT_EQ(ErrorOf(base + "security: {keys: k}\n"), "security.keys: unknown field");
}

TEST(SecurityConfig, NamesEveryMemberTheConfigImplies) {
  StatusOr<ClusterConfig> config = Parse(kMinimal);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(
      ClusterMembers(*config),
      (std::vector<std::string>{"replica.a", "replica.b", "agent.local", "coordinator.local"}));
}

TEST(SecurityConfig, InitClusterKeysWritesSecretKeysOnlyTheOwnerCanRead) {
  StatusOr<ClusterConfig> config = Parse(kMinimal);
  ASSERT_TRUE(config.ok());
  const fs::path dir = fs::path(::testing::TempDir()) / "security_config_test_keys";
  fs::remove_all(dir);
  StatusOr<std::map<std::string, std::string>> keys = InitClusterKeys(*config, dir.string());
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  ASSERT_EQ(keys->size(), 4u);
  for (const auto& [member, key] : *keys) {
    EXPECT_EQ(key.size(), 40u) << member;
    struct stat st {};
    ASSERT_EQ(stat((dir / (member + ".secret")).c_str(), &st), 0) << member;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << member;
  }
  EXPECT_NE(keys->at("replica.a"), keys->at("replica.b"));
  // A second init would lock every member out until each config changed: refused.
  StatusOr<std::map<std::string, std::string>> again = InitClusterKeys(*config, dir.string());
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("replica.a.secret: exists"), std::string::npos)
      << again.status().message();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace duplex
