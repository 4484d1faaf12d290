// End to end: a pair whose config writes its addresses as users do, a host name (localhost,
// from /etc/hosts through getaddrinfo) or the IPv6 loopback (::1), serves writes and reads
// and fails over. Every socket of every process binds the address the name resolves to
// (common/net.h, ResolveHost). Ports 48100-48299 on loopback only.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "chaos/workload.h"
#include "common/net.h"
#include "replica/client.h"
#include "tests/test_support.h"

namespace duplex {
namespace {

using testing::ScratchDir;

// Whether this machine can listen on [::1] at all (a container may have no IPv6).
bool Ipv6LoopbackWorks() {
  const int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_loopback;
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return bound;
}

std::unique_ptr<ClusterFixture> StartOn(const std::string& host, int port_first) {
  FixtureOptions options;
  options.dir = ScratchDir();
  options.port_first = port_first;
  options.port_last = port_first + 99;
  options.configure = [host](ClusterConfig* c) {
    c->host = host;
    for (ReplicaConfig& r : c->replicas) r.host = host;
  };
  auto cluster = ClusterFixture::Start(options);
  EXPECT_TRUE(cluster.ok()) << cluster.status().ToString();
  return cluster.ok() ? std::move(cluster).value() : nullptr;
}

// Writes and reads through the pair, kills the active, and reads every write back from the
// promoted standby: both replicas, the agent and the coordinator worked on `host`.
void ServesAndFailsOver(ClusterFixture& cluster, const std::string& host) {
  for (const std::string& endpoint : cluster.Endpoints()) {
    EXPECT_NE(endpoint.find(BracketedHost(host)), std::string::npos) << endpoint;
  }
  ClientOptions options;
  options.endpoints = cluster.Endpoints();
  Client client(options);
  for (int i = 0; i < 20; ++i) {
    auto put = client.Call("PUT", {"k" + std::to_string(i), "v" + std::to_string(i)});
    ASSERT_TRUE(put.ok()) << put.status().ToString();
    ASSERT_EQ(put->code, Code::kOk) << put->message;
  }
  auto active = cluster.ActiveName();
  ASSERT_TRUE(active.ok()) << active.status().ToString();
  auto epoch = cluster.Epoch();
  ASSERT_TRUE(epoch.ok()) << epoch.status().ToString();
  ASSERT_TRUE(cluster.SignalReplica(*active, SIGKILL).ok());
  DUPLEX_ASSERT_OK(cluster.WaitFor(
      [&](const nlohmann::json& s) { return s.value("epoch", uint64_t{0}) > *epoch; }, 5000,
      "a new epoch after killing " + *active));
  for (int i = 0; i < 20; ++i) {
    auto get = client.Call("GET", {"k" + std::to_string(i)});
    ASSERT_TRUE(get.ok()) << get.status().ToString();
    EXPECT_EQ(get->value, "v" + std::to_string(i));
  }
  DUPLEX_ASSERT_OK(cluster.WaitReady(15000));  // the killed one restarted on `host` too
  EXPECT_TRUE(cluster.LogFindings().empty()) << ::testing::PrintToString(cluster.LogFindings());
}

TEST(HostNames, APairOnTheHostNameLocalhostServesAndFailsOver) {
  auto cluster = StartOn("localhost", 48100);
  ASSERT_NE(cluster, nullptr);
  ServesAndFailsOver(*cluster, "localhost");
}

TEST(HostNames, APairOnTheIpv6LoopbackServesAndFailsOver) {
  if (!Ipv6LoopbackWorks()) GTEST_SKIP() << "this machine cannot listen on [::1]";
  auto cluster = StartOn("::1", 48200);
  ASSERT_NE(cluster, nullptr);
  ServesAndFailsOver(*cluster, "::1");
}

TEST(HostNames, ResolvesNamesToOneAddressPreferringIpv4) {
  EXPECT_EQ(ResolveHost("127.0.0.1").value(), "127.0.0.1");
  EXPECT_EQ(ResolveHost("::1").value(), "::1");
  EXPECT_EQ(ResolveHost("[::1]").value(), "::1");
  EXPECT_EQ(ResolveHost("localhost").value(), "127.0.0.1");
  StatusOr<std::string> unknown = ResolveHost("no-such-host.invalid");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("no-such-host.invalid"), std::string::npos);
  EXPECT_EQ(TcpEndpoint("::1", 7410), "tcp://[::1]:7410");
  EXPECT_EQ(TcpEndpoint("localhost", 7410), "tcp://localhost:7410");
  bool ipv6 = false;
  EXPECT_EQ(ResolvedZmqEndpoint("tcp://localhost:7410", &ipv6).value(), "tcp://127.0.0.1:7410");
  EXPECT_FALSE(ipv6);
  EXPECT_EQ(ResolvedZmqEndpoint("tcp://[::1]:7410", &ipv6).value(), "tcp://[::1]:7410");
  EXPECT_TRUE(ipv6);
  EXPECT_EQ(WithSourceAddress("tcp://[::1]:7410", "127.0.0.1"), "tcp://[::1]:7410");
}

}  // namespace
}  // namespace duplex
