#include "replica/curve_auth.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <zmq.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "replica/zmq_util.h"

namespace duplex {
namespace {

constexpr int kWaitMs = 3000;    // a message over loopback, a handshake refused
constexpr int kObserveMs = 300;  // how long nothing must arrive from a refused peer

struct KeyPair {
  std::string pub, secret;
};

KeyPair NewKeys() {
  CurveKeyPair pair = NewCurveKeyPair();
  return {pair.public_key, pair.secret_key};
}

// A server ROUTER of member "replica.a" on an ephemeral loopback port, allowing "replica.a" and
// "agent.h1"; clients connect from a context of their own, as a stranger would.
class CurveAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_keys_ = NewKeys();
    agent_keys_ = NewKeys();
    CurveSettings settings{"replica.a",
                           server_keys_.secret,
                           {{"replica.a", server_keys_.pub}, {"agent.h1", agent_keys_.pub}}};
    auto auth = CurveAuth::Start(server_ctx_.ctx, settings);
    ASSERT_TRUE(auth.ok()) << auth.status().ToString();
    auth_ = std::move(auth).value();
    router_ = std::make_unique<ZSocket>(server_ctx_.ctx, ZMQ_ROUTER, 1 << 20);
    ASSERT_TRUE(auth_->Serve(router_->s).ok());
    ASSERT_EQ(zmq_bind(router_->s, "tcp://127.0.0.1:0"), 0);
    char endpoint[256];
    size_t size = sizeof(endpoint);
    zmq_getsockopt(router_->s, ZMQ_LAST_ENDPOINT, endpoint, &size);
    endpoint_ = endpoint;
  }
  void TearDown() override {
    clients_.clear();
    router_.reset();
    auth_.reset();  // before the context ends
  }

  // A DEALER that sends "hello" as the holder of `keys` (plain when keys.pub is empty).
  void SendFrom(const KeyPair& keys) {
    clients_.push_back(std::make_unique<ZSocket>(client_ctx_.ctx, ZMQ_DEALER, 1 << 20));
    void* s = clients_.back()->s;
    if (!keys.pub.empty()) {
      zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_keys_.pub.c_str(), 40);
      zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, keys.pub.c_str(), 40);
      zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, keys.secret.c_str(), 40);
    }
    ASSERT_EQ(zmq_connect(s, endpoint_.c_str()), 0);
    SendParts(s, nullptr, "hello");
  }

  // What the router receives within wait_ms: parts and the sender's User-Id.
  std::pair<std::vector<std::string>, std::string> Receive(int wait_ms) {
    zmq_pollitem_t item = {router_->s, 0, ZMQ_POLLIN, 0};
    std::string user = "(none)";
    if (zmq_poll(&item, 1, wait_ms) <= 0) return {{}, user};
    return {RecvParts(router_->s, &user), user};
  }

  bool WaitCount(AuthRefusal reason, uint64_t at_least) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kWaitMs);
    while (auth_->counters().Get(reason) < at_least) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
  }

  ZContext server_ctx_;
  ZContext client_ctx_;
  KeyPair server_keys_, agent_keys_;
  std::unique_ptr<CurveAuth> auth_;
  std::unique_ptr<ZSocket> router_;
  std::vector<std::unique_ptr<ZSocket>> clients_;
  std::string endpoint_;
};

TEST_F(CurveAuthTest, AListedKeyIsAdmittedUnderItsMemberName) {
  SendFrom(agent_keys_);
  auto [parts, user] = Receive(kWaitMs);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[1], "hello");
  EXPECT_EQ(user, "agent.h1");
  EXPECT_EQ(auth_->counters().Get(AuthRefusal::kUnknownKey), 0u);
}

TEST_F(CurveAuthTest, AnUnlistedKeyIsRefusedAndCounted) {
  SendFrom(NewKeys());
  EXPECT_TRUE(WaitCount(AuthRefusal::kUnknownKey, 1));
  EXPECT_TRUE(Receive(kObserveMs).first.empty());
  EXPECT_NE(
      auth_->counters().MetricsText().find("duplex_auth_refused_total{reason=\"unknown_key\"}"),
      std::string::npos);
}

TEST_F(CurveAuthTest, APlainPeerNeverReachesTheSocket) {
  SendFrom({});
  EXPECT_TRUE(Receive(kObserveMs).first.empty());
  // Still open to a listed peer afterwards.
  SendFrom(agent_keys_);
  EXPECT_EQ(Receive(kWaitMs).second, "agent.h1");
}

TEST_F(CurveAuthTest, AdmitRefusesAnotherMembersKeyAndCountsIt) {
  EXPECT_TRUE(auth_->Admit("replica.b", "replica.b", AuthRefusal::kClaimMismatch, "a hello"));
  EXPECT_FALSE(auth_->Admit("agent.h1", "replica.b", AuthRefusal::kClaimMismatch, "a hello"));
  EXPECT_FALSE(auth_->Admit("", "replica.b", AuthRefusal::kWrongMember, "an ack"));
  EXPECT_EQ(auth_->counters().Get(AuthRefusal::kClaimMismatch), 1u);
  EXPECT_EQ(auth_->counters().Get(AuthRefusal::kWrongMember), 1u);
}

TEST(CurveAuth, OffAdmitsEverythingAndStartsNothing) {
  ZContext ctx;
  auto auth = CurveAuth::Start(ctx.ctx, {});
  ASSERT_TRUE(auth.ok());
  EXPECT_FALSE((*auth)->on());
  EXPECT_TRUE((*auth)->Admit("", "replica.b", AuthRefusal::kWrongMember, "a hello"));
}

TEST(CurveAuth, ASecretKeyThatIsNotTheListedOnesIsRefused) {
  ZContext ctx;
  KeyPair listed = NewKeys(), other = NewKeys();
  auto auth = CurveAuth::Start(ctx.ctx, {"replica.a", other.secret, {{"replica.a", listed.pub}}});
  ASSERT_FALSE(auth.ok());
  EXPECT_NE(auth.status().message().find("does not belong"), std::string::npos);
  auto unlisted =
      CurveAuth::Start(ctx.ctx, {"replica.b", other.secret, {{"replica.a", listed.pub}}});
  ASSERT_FALSE(unlisted.ok());
  EXPECT_NE(unlisted.status().message().find("replica.b has no public key"), std::string::npos);
}

TEST(CurveKeys, ASecretFileReadableByOthersIsRefusedNamingItsMode) {
  const std::string path = ::testing::TempDir() + "/curve_auth_test_" + std::to_string(getpid());
  std::ofstream(path) << NewKeys().secret << "\n";
  ::chmod(path.c_str(), 0644);
  auto open = ReadCurveSecretFile(path);
  ASSERT_FALSE(open.ok());
  EXPECT_NE(open.status().message().find(path), std::string::npos);
  EXPECT_NE(open.status().message().find("0644"), std::string::npos);
  ::chmod(path.c_str(), 0600);
  EXPECT_TRUE(ReadCurveSecretFile(path).ok());
  std::filesystem::remove(path);
}

TEST(CurveKeys, AKeyListRoundTripsAndBadItemsAreNamed) {
  std::map<std::string, std::string> keys = {{"replica.a", NewKeys().pub},
                                             {"agent.local", NewKeys().pub}};
  auto parsed = ParseCurveKeys(FormatCurveKeys(keys));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*parsed, keys);
  auto short_key = ParseCurveKeys("replica.a=abc");
  ASSERT_FALSE(short_key.ok());
  EXPECT_NE(short_key.status().message().find("item 1 (replica.a)"), std::string::npos);
  EXPECT_FALSE(ParseCurveKeys("replica.a").ok());
  EXPECT_FALSE(ParseCurveKeys("").ok());
}

}  // namespace
}  // namespace duplex
