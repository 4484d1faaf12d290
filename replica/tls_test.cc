// The client port's access checks in one process: TLS 1.3 with the certificates `duplex keys
// init --tls` writes, the Auth frame (right, wrong, missing password, counted), client
// certificates required, the secret files' mode check and protected mode's loopback test.
#include "replica/tls.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <zmq.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "replica/access_control.h"
#include "replica/client.h"
#include "replica/client_listener.h"
#include "replica/frame.h"

namespace duplex {
namespace {

constexpr size_t kFrameMax = 1 << 20;
const std::string kHost = "127.0.81.1";

std::string TempDir(const std::string& name) {
  std::string dir = testing::TempDir() + "/duplex_tls_test_" + name + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// A client port on kHost:port served by a thread that answers every request "pong".
class EchoServer {
 public:
  EchoServer(int port, ClientAccess access) : listener_(kFrameMax) {
    listener_.SetAccess(std::move(access), &refused_);
    Status s = listener_.Listen(kHost, port);
    EXPECT_TRUE(s.ok()) << s.ToString();
    thread_ = std::thread([this] { Serve(); });
  }
  ~EchoServer() {
    stop_ = true;
    thread_.join();
  }
  const AuthCounters& refused() const { return refused_; }

 private:
  void Serve() {
    std::vector<zmq_pollitem_t> items;
    while (!stop_) {
      items.clear();
      listener_.AddPollItems(&items);
      zmq_poll(items.data(), static_cast<int>(items.size()), 10);
      listener_.OnPolled(
          items.data(),
          [this](const std::string& route, std::string bytes) {
            auto frame = DecodeFrame(bytes, kFrameMax);
            if (!frame.ok()) return;
            if (auto* r = std::get_if<Request>(&*frame)) {
              listener_.Send(route,
                             EncodeFrame(ClientReply{
                                 r->client_id, r->request_seq, {Code::kOk, "", "pong"}, 1, ""}));
            }
          },
          [](const std::string&) {});
      listener_.Flush();
    }
  }

  ClientListener listener_;
  AuthCounters refused_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class TlsTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir("certs");
    auto written = WriteTlsFiles(dir_, {kHost});
    ASSERT_TRUE(written.ok()) << written.status().ToString();
    struct stat st {};
    ASSERT_EQ(::stat((dir_ + "/server.key").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << "a private key is written mode 0600";
  }
  ClientAccess Access(PeerCerts certs, const std::string& password) {
    auto ctx =
        TlsContext::Server({dir_ + "/server.crt", dir_ + "/server.key", dir_ + "/ca.crt", certs});
    EXPECT_TRUE(ctx.ok()) << ctx.status().ToString();
    return {ctx.ok() ? *ctx : nullptr, password, certs == PeerCerts::kRequired};
  }
  ClientOptions Options(int port, const std::string& password, bool cert = false) {
    ClientOptions o;
    o.endpoints = {"tcp://" + kHost + ":" + std::to_string(port)};
    o.deadline_ms = 2000;
    o.attempt_timeout_ms = 500;
    o.tls_ca_file = dir_ + "/ca.crt";
    if (cert) o.tls_cert_file = dir_ + "/client.crt", o.tls_key_file = dir_ + "/client.key";
    o.password = password;
    return o;
  }
  std::string dir_;
};

TEST_F(TlsTest, TheRightPasswordIsServedOverTls) {
  EchoServer server(43001, Access(PeerCerts::kNone, "s3cret"));
  Client client(Options(43001, "s3cret"));
  auto reply = client.Call("get", {"k"});
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(reply->code, Code::kOk);
  EXPECT_EQ(reply->value, "pong");
  EXPECT_EQ(server.refused().Of("client_password"), 0u);
}

TEST_F(TlsTest, AWrongPasswordIsRefusedAndCounted) {
  EchoServer server(43002, Access(PeerCerts::kNone, "s3cret"));
  Client client(Options(43002, "guess"));
  auto reply = client.Call("get", {"k"});
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(reply->code, Code::kFailedPrecondition);
  EXPECT_EQ(reply->message.rfind("WRONGPASS", 0), 0u) << reply->message;
  EXPECT_EQ(server.refused().Of("client_password"), 1u);
}

TEST_F(TlsTest, ARequestBeforeAuthGetsNoauth) {
  EchoServer server(43003, Access(PeerCerts::kNone, "s3cret"));
  Client client(Options(43003, ""));  // TLS, but no Auth frame
  auto reply = client.Call("get", {"k"});
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(reply->code, Code::kFailedPrecondition);
  EXPECT_EQ(reply->message.rfind("NOAUTH", 0), 0u) << reply->message;
  EXPECT_EQ(server.refused().Of("client_noauth"), 1u);
}

TEST_F(TlsTest, RequiredClientCertificates) {
  EchoServer server(43004, Access(PeerCerts::kRequired, ""));
  Client with_cert(Options(43004, "", /*cert=*/true));
  auto served = with_cert.Call("get", {"k"});
  ASSERT_TRUE(served.ok()) << served.status().ToString();
  EXPECT_EQ(served->value, "pong");
  Client without(Options(43004, ""));
  auto refused = without.Call("get", {"k"});
  EXPECT_FALSE(refused.ok() && refused->code == Code::kOk) << "served without a certificate";
  EXPECT_GE(server.refused().Of("client_tls"), 1u);
}

TEST_F(TlsTest, AClientThatDoesNotTrustTheCaRefusesTheServer) {
  EchoServer server(43005, Access(PeerCerts::kNone, ""));
  std::string other = TempDir("other");
  ASSERT_TRUE(WriteTlsFiles(other, {}).ok());
  ClientOptions o = Options(43005, "");
  o.tls_ca_file = other + "/ca.crt";
  Client client(o);
  auto reply = client.Call("get", {"k"});
  EXPECT_FALSE(reply.ok()) << "a server signed by another CA was trusted";
}

TEST(TlsFiles, ErrorsNameTheFile) {
  auto ctx = TlsContext::Server(
      {"/nonexistent/server.crt", "/nonexistent/server.key", "", PeerCerts::kNone});
  ASSERT_FALSE(ctx.ok());
  EXPECT_NE(ctx.status().message().find("/nonexistent/server.crt"), std::string::npos)
      << ctx.status().message();
}

TEST(SecretFile, GroupReadableIsRefusedNamingFileAndMode) {
  std::string path = TempDir("secret") + "/admin.token";
  std::ofstream(path) << "abc123\n";
  ::chmod(path.c_str(), 0644);
  auto open = ReadSecretFile(path, "security.admin_token_file");
  ASSERT_FALSE(open.ok());
  EXPECT_NE(open.status().message().find(path), std::string::npos);
  EXPECT_NE(open.status().message().find("0644"), std::string::npos) << open.status().message();
  ::chmod(path.c_str(), 0600);
  auto read = ReadSecretFile(path, "security.admin_token_file");
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(*read, "abc123");
}

TEST(ProtectedMode, LoopbackClassifier) {
  for (const char* host : {"127.0.0.1", "127.0.81.1", "127.255.255.254", "::1", "localhost"}) {
    EXPECT_TRUE(IsLoopbackAddress(host)) << host;
  }
  for (const char* host : {"0.0.0.0", "10.0.0.1", "128.0.0.1", "192.168.1.2", "::", "", "h1"}) {
    EXPECT_FALSE(IsLoopbackAddress(host)) << host;
  }
}

TEST(ProtectedMode, RefusesBeyondLoopbackNamingWhatToAdd) {
  EXPECT_TRUE(CheckProtectedMode("replica a", "127.0.0.1", {"security.public_keys"}).ok());
  EXPECT_TRUE(CheckProtectedMode("replica a", "0.0.0.0", {}).ok());
  Status s = CheckProtectedMode("replica a", "0.0.0.0", {"security.public_keys"});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("security.public_keys"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("0.0.0.0"), std::string::npos) << s.message();
}

TEST(Secrets, EqualInConstantTime) {
  EXPECT_TRUE(SecretsEqual("abc", "abc"));
  EXPECT_FALSE(SecretsEqual("abc", "abd"));
  EXPECT_FALSE(SecretsEqual("abc", "abcd"));
  auto hex = RandomHex(32);
  ASSERT_TRUE(hex.ok());
  EXPECT_EQ(hex->size(), 64u);
}

}  // namespace
}  // namespace duplex
