// End to end, with CURVE on every ZeroMQ link (`security.public_keys` from InitClusterKeys): the
// attacks of issue 20 on the replication and control ports are refused and counted. A stranger
// without a listed key never reaches the active's core; one holding another member's listed key
// (agent.local's) cannot open a standby session with a hello, at the current epoch or another, and
// the real standby keeps its session (writes keep being acknowledged); a forged status for replica
// a sent with another member's key, also after a coordinator restart with a forged pid, is refused
// and the pid is not adopted. One pair per test on 127.0.61.1, ports 41100-41999.
#include <httplib.h>
#include <zmq.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <thread>

#include "replica/client.h"
#include "replica/curve_auth.h"
#include "replica/frame.h"
#include "replica/zmq_util.h"
#include "tests/test_support.h"
#include "upgrade_coordinator/security_config.h"

namespace duplex {
namespace {

using testing::Eventually;
using testing::ScratchDir;

constexpr char kAddress[] = "127.0.61.1";
constexpr int kCountTimeoutMs = 5000;  // a refusal shows in /metrics within this
constexpr int kObserveMs = 300;        // a process that must not react, watched this long
constexpr int kWrites = 50;

std::string Page(const StatusOr<std::string>& page) { return page.ok() ? *page : ""; }

// duplex_auth_refused_total{reason="<reason>"} in a /metrics page (0 when absent).
uint64_t Refused(const std::string& metrics, const std::string& reason) {
  const std::string sample = "duplex_auth_refused_total{reason=\"" + reason + "\"} ";
  const size_t at = metrics.find(sample);
  if (at == std::string::npos) return 0;
  return std::stoull(metrics.substr(at + sample.size()));
}

// A pair whose config lists a CURVE key for every member; the secret keys under <dir>/keys.
std::unique_ptr<ClusterFixture> StartSecurePair(const std::string& dir) {
  FixtureOptions options;
  options.dir = dir;
  options.port_first = 41100;
  options.port_last = 41999;
  options.configure = [](ClusterConfig* c) {
    c->host = kAddress;
    for (ReplicaConfig& r : c->replicas) r.host = kAddress;
    // CURVE keys: the fixture's (FixtureOptions::curve, on by default), under <dir>/keys.
    EXPECT_TRUE(c->security.curve());
  };
  auto cluster = ClusterFixture::Start(options);
  EXPECT_TRUE(cluster.ok()) << cluster.status().ToString();
  return cluster.ok() ? std::move(cluster).value() : nullptr;
}

// ZeroMQ peers of the test's own context: CURVE clients holding whatever keys they are given.
class Stranger {
 public:
  Stranger() : ctx_(zmq_ctx_new()) {}
  ~Stranger() {
    for (void* s : sockets_) zmq_close(s);
    zmq_ctx_term(ctx_);
  }
  Stranger(const Stranger&) = delete;
  Stranger& operator=(const Stranger&) = delete;

  // A DEALER to endpoint, a CURVE client of server_key holding {public_key, secret_key} (plain
  // when server_key is empty).
  void* Dealer(const std::string& endpoint, const std::string& server_key,
               const CurveKeyPair& keys) {
    void* s = zmq_socket(ctx_, ZMQ_DEALER);
    int linger = 0, timeout = 1000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeout, sizeof(timeout));
    if (!server_key.empty()) {
      zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_key.c_str(), server_key.size());
      zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, keys.public_key.c_str(), keys.public_key.size());
      zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, keys.secret_key.c_str(), keys.secret_key.size());
    }
    zmq_connect(s, endpoint.c_str());
    sockets_.push_back(s);
    return s;
  }

 private:
  void* ctx_;
  std::vector<void*> sockets_;
};

void Send(void* socket, const std::string& frame) {
  // Queued until the handshake ends; a refused handshake drops it (the point of the test).
  zmq_send(socket, frame.data(), frame.size(), ZMQ_DONTWAIT);
}

CurveKeyPair MemberKeys(const ClusterFixture& cluster, const std::string& member) {
  CurveKeyPair keys;
  keys.public_key = cluster.config().security.public_keys.at(member);
  auto secret = ReadCurveSecretFile(cluster.config().security.keys_dir + "/" + member + ".secret");
  EXPECT_TRUE(secret.ok()) << secret.status().ToString();
  keys.secret_key = secret.ok() ? *secret : "";
  return keys;
}

std::string ReplicationEndpoint(const ClusterFixture& cluster, const std::string& replica) {
  for (const ReplicaConfig& r : cluster.config().replicas) {
    if (r.name == replica) return "tcp://" + r.host + ":" + std::to_string(r.port);
  }
  return "";
}

std::string CoordinatorMetrics(const ClusterFixture& cluster) {
  httplib::Client http(cluster.config().host, cluster.config().admin_port);
  http.set_read_timeout(1, 0);
  auto res = http.Get("/metrics");
  return res ? res->body : "";
}

void WriteKeys(const ClusterFixture& cluster, const std::string& prefix) {
  ClientOptions options;
  options.endpoints = cluster.Endpoints();
  Client client(options);
  for (int i = 0; i < kWrites; ++i) {
    auto r = client.Call("PUT", {prefix + std::to_string(i), "v"});
    ASSERT_TRUE(r.ok()) << prefix << i << ": " << r.status().ToString();
    ASSERT_EQ(r->code, Code::kOk) << prefix << i << ": " << r->message;
  }
}

std::string HelloFrame(const std::string& replica, uint64_t epoch) {
  Hello hello;
  hello.replica = replica;
  hello.epoch = epoch;
  hello.session_id = uint64_t{1} << 40;  // newer than any real session
  hello.version = "1.0.0";
  return EncodeFrame(Frame{PeerMessage{hello}});
}

TEST(SecurityCurve, AStrangerWithoutAListedKeyNeverReachesTheActive) {
  auto cluster = StartSecurePair(ScratchDir());
  ASSERT_NE(cluster, nullptr);
  auto active = cluster->ActiveName();
  ASSERT_TRUE(active.ok());
  auto epoch = cluster->Epoch();
  ASSERT_TRUE(epoch.ok());
  auto before = cluster->ReplicaStatus(*active);
  ASSERT_TRUE(before.ok());
  const std::string active_key = cluster->config().security.public_keys.at(ReplicaMember(*active));
  Stranger stranger;
  const std::string endpoint = ReplicationEndpoint(*cluster, *active);
  Send(stranger.Dealer(endpoint, active_key, NewCurveKeyPair()), HelloFrame("b", *epoch));
  Send(stranger.Dealer(endpoint, "", {}), HelloFrame("b", *epoch));  // plain: no CURVE at all
  uint64_t unknown = 0;
  EXPECT_TRUE(Eventually(
      [&] {
        unknown = Refused(Page(cluster->ReplicaHttpGet(*active, "/metrics")), "unknown_key");
        return unknown >= 1;
      },
      kCountTimeoutMs))
      << "the unlisted key was not counted";
  std::this_thread::sleep_for(std::chrono::milliseconds(kObserveMs));
  auto after = cluster->ReplicaStatus(*active);
  ASSERT_TRUE(after.ok());
  // Neither hello reached the core: it counts every frame it refuses.
  EXPECT_EQ((*after)["refused_frames"], (*before)["refused_frames"]);
  EXPECT_EQ((*after)["epoch"], *epoch);
  WriteKeys(*cluster, "after-stranger-");
  EXPECT_TRUE(cluster->LogFindings().empty());
}

TEST(SecurityCurve, AHelloSentWithAnotherMembersKeyIsRefusedAndTheStandbyKeepsItsSession) {
  auto cluster = StartSecurePair(ScratchDir());
  ASSERT_NE(cluster, nullptr);
  auto active = cluster->ActiveName();
  ASSERT_TRUE(active.ok());
  const std::string standby = *active == "a" ? "b" : "a";
  auto epoch = cluster->Epoch();
  ASSERT_TRUE(epoch.ok());
  auto status = cluster->Status();
  ASSERT_TRUE(status.ok());
  const size_t transitions = (*status)["transitions"].size();
  WriteKeys(*cluster, "before-");
  const std::string active_key = cluster->config().security.public_keys.at(ReplicaMember(*active));
  const std::string endpoint = ReplicationEndpoint(*cluster, *active);
  Stranger stranger;
  // agent.local's key claiming the standby, at the current epoch, a newer one and an older one.
  void* agent = stranger.Dealer(endpoint, active_key, MemberKeys(*cluster, AgentMember("local")));
  for (uint64_t e : {*epoch, *epoch + 1, *epoch - 1}) Send(agent, HelloFrame(standby, e));
  // The active's own key claiming its own name: through the key check, refused by the core (the
  // coordinator assigned it no such standby).
  void* self = stranger.Dealer(endpoint, active_key, MemberKeys(*cluster, ReplicaMember(*active)));
  Send(self, HelloFrame(*active, *epoch));
  std::string metrics;
  EXPECT_TRUE(Eventually(
      [&] {
        metrics = Page(cluster->ReplicaHttpGet(*active, "/metrics"));
        return Refused(metrics, "claim_mismatch") >= 3 && Refused(metrics, "not_assigned") >= 1;
      },
      kCountTimeoutMs))
      << metrics;
  WriteKeys(*cluster, "after-");  // acknowledged: the standby's acks still release them
  auto after = cluster->Status();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ((*after)["epoch"], *epoch) << "the newer epoch of a forged hello was learnt";
  EXPECT_EQ((*after)["active"], *active);
  EXPECT_EQ((*after)["transitions"].size(), transitions);
  auto standby_status = cluster->ReplicaStatus(standby);
  ASSERT_TRUE(standby_status.ok());
  EXPECT_EQ((*standby_status)["state"], "Standby/InSync");
  DUPLEX_ASSERT_OK(cluster->WaitConverged(kCountTimeoutMs));
  EXPECT_TRUE(cluster->LogFindings().empty());
}

// A status for replica a with a forged pid, sent with agent.local's key, until the count shows it.
void ForgeStatus(const ClusterFixture& cluster, Stranger& stranger, int32_t pid, uint64_t epoch,
                 uint64_t at_least) {
  StatusReport forged;
  forged.replica = "a";
  forged.pid = pid;
  forged.epoch = epoch;
  forged.applied_epoch = epoch;
  forged.role = WireRole::kActive;
  forged.version = "1.0.0";
  const std::string endpoint =
      "tcp://" + cluster.config().host + ":" + std::to_string(cluster.config().control_port);
  void* dealer =
      stranger.Dealer(endpoint, cluster.config().security.public_keys.at("coordinator.local"),
                      MemberKeys(cluster, AgentMember("local")));
  std::string metrics;
  EXPECT_TRUE(Eventually(
      [&] {
        Send(dealer, EncodeFrame(Frame{forged}));
        metrics = CoordinatorMetrics(cluster);
        return Refused(metrics, "claim_mismatch") >= at_least;
      },
      kCountTimeoutMs))
      << metrics;
}

TEST(SecurityCurve, AForgedStatusWithAnotherMembersKeyIsRefusedAlsoAfterACoordinatorRestart) {
  auto cluster = StartSecurePair(ScratchDir());
  ASSERT_NE(cluster, nullptr);
  constexpr int32_t kForgedPid = 999999;
  auto epoch = cluster->Epoch();
  ASSERT_TRUE(epoch.ok());
  auto pid = cluster->PidOf("a");
  ASSERT_TRUE(pid.ok());
  Stranger stranger;
  ForgeStatus(*cluster, stranger, kForgedPid, *epoch, 1);
  // A restarted coordinator knows no pid until the agent reports: the forged one must not be
  // adopted meanwhile.
  DUPLEX_ASSERT_OK(cluster->KillAndRestartCoordinator());
  ForgeStatus(*cluster, stranger, kForgedPid, *epoch, 1);
  DUPLEX_ASSERT_OK(cluster->WaitReady(10000));
  std::this_thread::sleep_for(std::chrono::milliseconds(kObserveMs));
  auto now = cluster->PidOf("a");
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(*now, *pid);
  EXPECT_NE(*now, kForgedPid);
  WriteKeys(*cluster, "after-forged-status-");
  EXPECT_TRUE(cluster->LogFindings().empty());
}

}  // namespace
}  // namespace duplex
