// End to end, the TLS and credential requirements of issue 20: a cluster with an admin token,
// a client password and TLS 1.3 on its client and HTTP ports (certificates as `duplex keys
// init --tls` writes them). The admin API without the token, or with a wrong one, refuses
// every route it lists except the open health pages, counted; with the token it works, over
// HTTPS verified with the CA. On the client port a request before AUTH gets NOAUTH, a wrong
// password is refused and counted, the right one is served. A coordinator that would bind a
// non-loopback address without keys and a token refuses to start, before binding anything.
// The replicas' HTTP ports: with the admin token and open_health false, every route (health
// pages included) needs the token; with open_health, only /routes does.
// Ports 43000-43999 and 46000-46999 on 127.0.0.1.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "chaos/cluster_fixture.h"
#include "chaos/load_generator.h"
#include "common/net.h"
#include "common/subprocess.h"
#include "replica/client.h"
#include "replica/tls.h"
#include "tests/test_support.h"
#include "upgrade_coordinator/admin_client.h"
#include "upgrade_coordinator/admin_http.h"

namespace duplex {
namespace {

namespace fs = std::filesystem;
using testing::ScratchDir;

const std::string kToken = "0123456789abcdef0123456789abcdef";
const std::string kPassword = "correct horse battery staple";

void WriteSecret(const std::string& path, const std::string& text) {
  std::ofstream(path) << text << "\n";
  ::chmod(path.c_str(), 0600);
}

// The labelled sample duplex_auth_refused_total{reason="<reason>"} in a /metrics text.
uint64_t Refused(const std::string& metrics, const std::string& reason) {
  const std::string name = "duplex_auth_refused_total{reason=\"" + reason + "\"} ";
  size_t at = metrics.find(name);
  return at == std::string::npos ? UINT64_MAX : std::stoull(metrics.substr(at + name.size()));
}

class SecureCluster : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ScratchDir();
    keys_ = dir_ + "-keys";
    fs::remove_all(keys_);
    fs::create_directories(keys_);
    auto written = WriteTlsFiles(keys_ + "/tls", {});
    ASSERT_TRUE(written.ok()) << written.status().ToString();
    WriteSecret(keys_ + "/admin.token", kToken);
    WriteSecret(keys_ + "/client.password", kPassword);
    FixtureOptions options;
    options.dir = dir_;
    options.port_first = port_first_;
    options.port_last = port_last_;
    const std::string keys = keys_;
    const bool open_health = open_health_;
    options.configure = [keys, open_health](ClusterConfig* c) {
      c->security.admin_token_file = keys + "/admin.token";
      c->security.open_health = open_health;
      c->security.client_password_file = keys + "/client.password";
      TlsConfig tls;
      tls.cert_file = keys + "/tls/server.crt";
      tls.key_file = keys + "/tls/server.key";
      tls.ca_file = keys + "/tls/ca.crt";
      c->security.tls = tls;
    };
    auto cluster = ClusterFixture::Start(options);
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    cluster_ = std::move(cluster).value();
  }
  void TearDown() override {
    if (cluster_) cluster_->Stop();
  }

  // The coordinator's admin API over HTTPS, verified with the CA; `token` "" sends none.
  httplib::Client Admin(const std::string& token) const {
    IgnoreBrokenPipes();
    httplib::Client http("https://" + config().host + ":" + std::to_string(config().admin_port));
    http.set_ca_cert_path((keys_ + "/tls/ca.crt").c_str());
    http.enable_server_certificate_verification(true);
    http.set_connection_timeout(std::chrono::seconds(2));
    http.set_read_timeout(std::chrono::seconds(20));
    if (!token.empty()) http.set_bearer_token_auth(token.c_str());
    return http;
  }
  std::string AdminMetrics() const {
    auto res = Admin(kToken).Get("/metrics");
    return res ? res->body : "";
  }
  const ClusterConfig& config() const { return cluster_->config(); }

  // A GET on a replica's HTTP port over HTTPS verified with the CA; `token` "" sends none.
  httplib::Result ReplicaGet(const ReplicaConfig& r, const std::string& path,
                             const std::string& token) const {
    httplib::Client http("https://" + r.host + ":" + std::to_string(r.http_port));
    http.set_ca_cert_path((keys_ + "/tls/ca.crt").c_str());
    http.enable_server_certificate_verification(true);
    http.set_connection_timeout(std::chrono::seconds(2));
    http.set_read_timeout(std::chrono::seconds(5));
    if (!token.empty()) http.set_bearer_token_auth(token.c_str());
    return http.Get(path.c_str());
  }

  bool open_health_ = true;
  int port_first_ = 43100, port_last_ = 43999;
  std::string dir_, keys_;
  std::unique_ptr<ClusterFixture> cluster_;
};

// The same cluster with security.open_health false: the replicas get the token file from their
// agent, and their health pages close too.
class ClosedHealthCluster : public SecureCluster {
 protected:
  ClosedHealthCluster() {
    open_health_ = false;
    port_first_ = 46100;
    port_last_ = 46499;
  }
};

// The same cluster as SecureCluster on ports of its own (a test added with the replicas' token).
class OpenHealthCluster : public SecureCluster {
 protected:
  OpenHealthCluster() {
    port_first_ = 46500;
    port_last_ = 46999;
  }
};

TEST_F(SecureCluster, AdminApiRefusesEveryRouteWithoutTheToken) {
  ASSERT_NE(cluster_, nullptr);
  // The server lists its routes: a route added later is tried here too.
  auto listed = Admin(kToken).Get("/routes");
  ASSERT_TRUE(listed) << httplib::to_string(listed.error());
  ASSERT_EQ(listed->status, 200) << listed->body;
  nlohmann::json routes = nlohmann::json::parse(listed->body);
  ASSERT_GT(routes.size(), 8u) << routes.dump();
  uint64_t refused = 0;
  int mutating = 0;
  for (const auto& route : routes) {
    const std::string method = route["method"], path = route["path"];
    const bool health = method == "GET" && (path == "/status" || path == "/metrics");
    for (const std::string& token : {std::string(), std::string("wrong-token")}) {
      httplib::Client http = Admin(token);
      auto res = method == "GET"    ? http.Get(path.c_str())
                 : method == "POST" ? http.Post(path.c_str(), "{}", "application/json")
                 : method == "PUT"  ? http.Put(path.c_str(), "{}", "application/json")
                                    : http.Delete(path.c_str());
      ASSERT_TRUE(res) << method << " " << path << ": " << httplib::to_string(res.error());
      if (health) {
        EXPECT_EQ(res->status, 200) << method << " " << path << " is an open health page";
        continue;
      }
      EXPECT_EQ(res->status, 401) << method << " " << path << " token '" << token << "'";
      EXPECT_NE(res->body.find("\"error\""), std::string::npos) << res->body;
      ++refused;
    }
    mutating += method != "GET";
  }
  EXPECT_GE(mutating, 6) << "switchover, shutdown, packages, upgrade start/abort/finalize";
  std::string metrics = AdminMetrics();
  EXPECT_EQ(Refused(metrics, "admin_token_missing") + Refused(metrics, "admin_token_wrong"),
            refused)
      << metrics;
  EXPECT_EQ(Refused(metrics, "admin_token_missing"), refused / 2) << metrics;
  // Nothing changed: the pair still serves, the same active.
  DUPLEX_ASSERT_OK(cluster_->WaitReady(10000));
}

TEST_F(SecureCluster, AdminApiWorksWithTheTokenOverHttpsOnly) {
  ASSERT_NE(cluster_, nullptr);
  auto before = cluster_->ActiveName();
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  // The CLI's path: the config names the token file and the CA. A refusal for the moment
  // ("active b is not reporting" right after the pair became ready) is tried again, bounded.
  auto done = Post(config(), "/switchover", 15000);
  for (int retry = 0; retry < 5 && !done.ok() && done.status().code() == Code::kFailedPrecondition;
       ++retry) {
    DUPLEX_ASSERT_OK(cluster_->WaitReady(15000));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    done = Post(config(), "/switchover", 15000);
  }
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  DUPLEX_ASSERT_OK(cluster_->WaitReady(15000));
  auto after = cluster_->ActiveName();
  ASSERT_TRUE(after.ok());
  EXPECT_NE(*before, *after);
  // Plain HTTP to the HTTPS port gets no answer.
  httplib::Client plain(config().host, config().admin_port);
  plain.set_connection_timeout(std::chrono::seconds(2));
  plain.set_read_timeout(std::chrono::seconds(2));
  auto res = plain.Get("/status");
  EXPECT_TRUE(!res || res->status != 200) << "served over plain HTTP";
  // A client that trusts another CA refuses the coordinator's certificate.
  ASSERT_TRUE(WriteTlsFiles(keys_ + "/other", {}).ok());
  httplib::Client stranger("https://" + config().host + ":" + std::to_string(config().admin_port));
  stranger.set_ca_cert_path((keys_ + "/other/ca.crt").c_str());
  stranger.enable_server_certificate_verification(true);
  stranger.set_connection_timeout(std::chrono::seconds(2));
  EXPECT_FALSE(stranger.Get("/status")) << "a certificate of another CA was accepted";
}

TEST_F(SecureCluster, ClientPortNeedsAuthAndTheRightPassword) {
  ASSERT_NE(cluster_, nullptr);
  auto base = ReplicaClientOptions(config());
  ASSERT_TRUE(base.ok()) << base.status().ToString();
  ASSERT_FALSE(base->tls_ca_file.empty());
  ASSERT_EQ(base->password, kPassword);
  base->deadline_ms = 5000;
  base->attempt_timeout_ms = 1000;

  ClientOptions no_auth = *base;
  no_auth.password = "";
  auto noauth = Client(no_auth).Call("GET", {"k"});
  ASSERT_TRUE(noauth.ok()) << noauth.status().ToString();
  EXPECT_EQ(noauth->code, Code::kFailedPrecondition);
  EXPECT_EQ(noauth->message.rfind("NOAUTH", 0), 0u) << noauth->message;

  ClientOptions wrong = *base;
  wrong.password = "guess";
  auto refused = Client(wrong).Call("PUT", {"k", "stolen"});
  ASSERT_TRUE(refused.ok()) << refused.status().ToString();
  EXPECT_EQ(refused->code, Code::kFailedPrecondition);
  EXPECT_EQ(refused->message.rfind("WRONGPASS", 0), 0u) << refused->message;

  Client right(*base);
  auto put = right.Call("PUT", {"k", "v"});
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(put->code, Code::kOk) << put->message;
  auto get = right.Call("GET", {"k"});
  ASSERT_TRUE(get.ok()) << get.status().ToString();
  EXPECT_EQ(get->value, "v");

  // Counted by the replica that refused (the active: each client went to it first or after
  // a hint), on its HTTPS /metrics.
  uint64_t password = 0, noauths = 0;
  for (const ReplicaConfig& r : config().replicas) {
    auto res = AdminHttpClient(config(), r.host, r.http_port, 2000).Get("/metrics");
    ASSERT_TRUE(res) << r.name << ": " << httplib::to_string(res.error());
    password += Refused(res->body, "client_password");
    noauths += Refused(res->body, "client_noauth");
  }
  EXPECT_EQ(password, 1u);
  EXPECT_GE(noauths, 1u);
}

TEST_F(OpenHealthCluster, ReplicaHealthPagesStayOpenAndTheirRouteListNeedsTheToken) {
  ASSERT_NE(cluster_, nullptr);
  for (const ReplicaConfig& r : config().replicas) {
    for (const std::string path : {"/role", "/status", "/metrics"}) {
      auto res = ReplicaGet(r, path, "");
      ASSERT_TRUE(res) << r.name << " " << path << ": " << httplib::to_string(res.error());
      EXPECT_NE(res->status, 401) << r.name << " " << path << " is an open health page";
    }
    auto routes = ReplicaGet(r, "/routes", "");
    ASSERT_TRUE(routes) << r.name << ": " << httplib::to_string(routes.error());
    EXPECT_EQ(routes->status, 401) << r.name << " /routes without the token: " << routes->body;
    routes = ReplicaGet(r, "/routes", kToken);
    ASSERT_TRUE(routes) << r.name << ": " << httplib::to_string(routes.error());
    EXPECT_EQ(routes->status, 200) << r.name << " /routes with the token: " << routes->body;
  }
}

// The benchmarks' load generator over TLS with the password (bench replication --secure).
TEST_F(OpenHealthCluster, TheLoadGeneratorSpeaksTlsAndAuth) {
  ASSERT_NE(cluster_, nullptr);
  auto active = cluster_->ActiveName();
  ASSERT_TRUE(active.ok()) << active.status().ToString();
  LoadOptions o;
  for (const ReplicaConfig& r : config().replicas) {
    if (r.name == *active) o.endpoint = TcpEndpoint(r.host, r.client_port);
  }
  o.connections = 4;
  o.seconds = 0.3;
  o.tls_ca_file = keys_ + "/tls/ca.crt";
  o.password = kPassword;
  auto load = RunLoad(o);
  ASSERT_TRUE(load.ok()) << load.status().ToString();
  EXPECT_GT(load->ok, 0u);
  EXPECT_EQ(load->errors + load->timeouts, 0u) << load->first_error;
  o.password = "guess";
  auto refused = RunLoad(o);
  ASSERT_FALSE(refused.ok()) << "a wrong password was served";
  EXPECT_NE(refused.status().message().find("WRONGPASS"), std::string::npos)
      << refused.status().ToString();
}

TEST_F(ClosedHealthCluster, ReplicaHttpRoutesAllNeedTheToken) {
  ASSERT_NE(cluster_, nullptr);
  for (const ReplicaConfig& r : config().replicas) {
    // The replica lists its routes (with the token): a route added later is tried here too.
    auto listed = ReplicaGet(r, "/routes", kToken);
    ASSERT_TRUE(listed) << r.name << ": " << httplib::to_string(listed.error());
    ASSERT_EQ(listed->status, 200) << r.name << ": " << listed->body;
    nlohmann::json routes = nlohmann::json::parse(listed->body);
    ASSERT_GE(routes.size(), 4u) << routes.dump();  // /role, /status, /metrics, /routes
    uint64_t missing = 0, wrong = 0;
    for (const auto& route : routes) {
      ASSERT_EQ(route["method"], "GET") << r.name << " serves only reads: " << routes.dump();
      const std::string path = route["path"];
      for (const std::string& token : {std::string(), std::string("wrong-token")}) {
        auto res = ReplicaGet(r, path, token);
        ASSERT_TRUE(res) << r.name << " " << path << ": " << httplib::to_string(res.error());
        EXPECT_EQ(res->status, 401) << r.name << " " << path << " token '" << token << "'";
        EXPECT_NE(res->body.find("\"error\""), std::string::npos) << res->body;
        ++(token.empty() ? missing : wrong);
      }
      auto res = ReplicaGet(r, path, kToken);
      ASSERT_TRUE(res) << r.name << " " << path << ": " << httplib::to_string(res.error());
      EXPECT_NE(res->status, 401) << r.name << " " << path << " with the token: " << res->body;
    }
    // Counted by the replica, on its /metrics (read with the token).
    auto metrics = ReplicaGet(r, "/metrics", kToken);
    ASSERT_TRUE(metrics) << r.name << ": " << httplib::to_string(metrics.error());
    EXPECT_EQ(Refused(metrics->body, "admin_token_missing"), missing) << metrics->body;
    EXPECT_EQ(Refused(metrics->body, "admin_token_wrong"), wrong) << metrics->body;
  }
  // The harness's own path (the config's token file): the replica's status and the pair.
  for (const ReplicaConfig& r : config().replicas) {
    auto status = cluster_->ReplicaStatus(r.name);
    EXPECT_TRUE(status.ok()) << r.name << ": " << status.status().ToString();
  }
  DUPLEX_ASSERT_OK(cluster_->WaitReady(10000));
  // The coordinator's health pages are closed too.
  auto res = Admin("").Get("/status");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 401) << res->body;
}

TEST(ProtectedMode, CoordinatorOnANonLoopbackAddressRefusesToStartBeforeBinding) {
  std::string dir = ScratchDir();
  fs::remove_all(dir);
  fs::create_directories(dir);
  ClusterConfig c;
  c.name = "exposed";
  c.data_dir = dir + "/data";
  c.host = "0.0.0.0";
  c.admin_port = 43010;
  c.control_port = 43011;
  c.processor.binary = "/bin/true";
  c.processor.version = "1.0.0";
  for (const char* name : {"a", "b"}) {
    ReplicaConfig r;
    r.name = name;
    r.port = name[0] == 'a' ? 43012 : 43015;
    r.client_port = r.port + 1;
    r.http_port = r.port + 2;
    c.replicas.push_back(r);
  }
  std::string path = dir + "/cluster.yaml";
  std::ofstream(path) << ClusterConfigToYaml(c);
  const char* build = std::getenv("DUPLEX_BUILD_DIR");
  SpawnOptions run;
  run.argv = {std::string(build ? build : "build") + "/duplex", "coordinator", "-c", path};
  run.stdout_to = ChildOutput::kCapture;
  run.stderr_to = ChildOutput::kCapture;
  auto result = RunProgram(run, 20000);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_FALSE(result->exit.success()) << result->output;
  EXPECT_NE(result->output.find("protected mode"), std::string::npos) << result->output;
  EXPECT_NE(result->output.find("security.admin_token_file"), std::string::npos) << result->output;
  EXPECT_NE(result->output.find("security.public_keys"), std::string::npos) << result->output;
  EXPECT_FALSE(fs::exists(c.data_dir + "/coordinator")) << "it opened its record first";
}

}  // namespace
}  // namespace duplex
