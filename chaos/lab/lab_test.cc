// The lab on this machine: nftables isolation proven on real sockets (root only), host
// processes crashed, frozen and thawed by their tags, the lab's plan (pure) and a lab of
// stand-in processes started, crashed, booted and taken down. Every table a test creates is
// deleted in TearDown, every process it starts is stopped by its pid.
#include "chaos/lab/lab.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "chaos/lab/etcd_process.h"
#include "chaos/lab/host_processes.h"
#include "chaos/lab/lab_plan.h"
#include "chaos/lab/nft_isolation.h"
#include "common/net.h"
#include "common/subprocess.h"
#include "upgrade_coordinator/security_config.h"

namespace duplex::lab {
namespace {

namespace fs = std::filesystem;

// A connection or datagram that should arrive gets this long (loopback: microseconds, but a
// loaded CI machine may not run us for a while); one that should be dropped, this long to
// show it is not delivered (a dropped SYN is resent only after 1 s).
constexpr int kArriveMs = 3000;
constexpr int kLostMs = 300;
constexpr int kWaitMs = 10000;  // for processes to appear, stop, continue

// The isolation tests' hosts h1, h2, h3: lab host addresses (127.0.N.1) that a lab gets only
// from its 201st host on, so that the drops these tests add cannot cut off a lab of the
// end-to-end tests (127.0.1.1, 127.0.2.1, ...) running at the same time on this machine.
const char* const kH1 = "127.0.201.1";
const char* const kH2 = "127.0.202.1";
const char* const kH3 = "127.0.203.1";

// A lab id no other run or test shares: the pid and a counter.
std::string UniqueLabId() {
  static std::atomic<int> next{0};
  return "t" + std::to_string(::getpid()) + "_" + std::to_string(next++);
}

// Polls `done` until it holds or kWaitMs passes.
bool Eventually(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kWaitMs);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

sockaddr_in Endpoint(const std::string& address, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  EXPECT_EQ(::inet_pton(AF_INET, address.c_str(), &addr.sin_addr), 1) << address;
  return addr;
}

int LocalPort(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  return ntohs(addr.sin_port);
}

std::string LocalAddress(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &addr.sin_addr, text, sizeof text);
  return text;
}

// A lab host's listeners: TCP and UDP on its address, ports chosen by the kernel.
struct Listeners {
  std::string address;
  int tcp_fd = -1;
  int tcp_port = 0;
  int udp_fd = -1;
  int udp_port = 0;

  explicit Listeners(std::string host_address) : address(std::move(host_address)) {
    const sockaddr_in addr = Endpoint(address, 0);
    tcp_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_EQ(::bind(tcp_fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0)
        << address << ": " << std::strerror(errno);
    EXPECT_EQ(::listen(tcp_fd, 64), 0);
    tcp_port = LocalPort(tcp_fd);
    udp_fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    EXPECT_EQ(::bind(udp_fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
    udp_port = LocalPort(udp_fd);
  }
  ~Listeners() {
    ::close(tcp_fd);
    ::close(udp_fd);
  }
  Listeners(const Listeners&) = delete;
  Listeners& operator=(const Listeners&) = delete;
};

// Whether a TCP connection from `source` (bound before connect) to `to` is made; a connection
// expected to fail must fail silently, by timing out, as across a real partition.
::testing::AssertionResult TcpConnects(const std::string& source, const Listeners& to,
                                       bool expected) {
  StatusOr<int> fd = ConnectTcp(to.address, to.tcp_port, source, expected ? kArriveMs : kLostMs);
  if (fd.ok()) ::close(*fd);
  if (fd.ok() == expected) {
    if (!expected && fd.status().message().find("timed out") == std::string::npos) {
      return ::testing::AssertionFailure()
             << source << " -> " << to.address
             << " failed, but not silently: " << fd.status().message();
    }
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "TCP " << source << " -> " << to.address << (expected ? " blocked: " : " connected")
         << (fd.ok() ? "" : fd.status().message());
}

// Whether a datagram from `source` reaches `to`. The send itself always succeeds: a drop at
// the input hook is a silent loss for the sender.
::testing::AssertionResult UdpDelivers(const std::string& source, const Listeners& to,
                                       bool expected) {
  char stale[64];
  while (::recv(to.udp_fd, stale, sizeof stale, 0) > 0) {
  }
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const sockaddr_in local = Endpoint(source, 0);
  const sockaddr_in remote = Endpoint(to.address, to.udp_port);
  const std::string token = source + "->" + to.address;
  const bool bound = ::bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) == 0;
  const ssize_t sent = ::sendto(fd, token.data(), token.size(), 0,
                                reinterpret_cast<const sockaddr*>(&remote), sizeof remote);
  const int send_errno = errno;
  ::close(fd);
  if (!bound || sent != static_cast<ssize_t>(token.size())) {
    return ::testing::AssertionFailure() << "UDP " << token << ": send failed (the drop is not "
                                         << "silent): " << std::strerror(send_errno);
  }
  pollfd p{to.udp_fd, POLLIN, 0};
  bool arrived = false;
  if (::poll(&p, 1, expected ? kArriveMs : kLostMs) > 0) {
    char buffer[64] = {};
    const ssize_t n = ::recv(to.udp_fd, buffer, sizeof buffer, 0);
    arrived = n > 0 && std::string(buffer, static_cast<std::size_t>(n)) == token;
  }
  if (arrived == expected) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "UDP " << token << (expected ? " lost" : " delivered despite the drop");
}

// ---- nftables isolation (root) ----

class NftIsolationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (nftables)";
  }
  // Runs also when the test failed: no table outlives its test.
  void TearDown() override {
    for (const std::string& id : lab_ids_) {
      NftIsolation nft(id);
      EXPECT_TRUE(nft.Heal().ok());
      StatusOr<bool> exists = nft.Exists();
      EXPECT_TRUE(exists.ok() && !*exists) << nft.table();
    }
  }
  NftIsolation NewLab() {
    lab_ids_.push_back(UniqueLabId());
    return NftIsolation(lab_ids_.back());
  }

  Listeners h1_{kH1};
  Listeners h2_{kH2};
  Listeners h3_{kH3};

 private:
  std::vector<std::string> lab_ids_;
};

TEST_F(NftIsolationTest, AnIsolatedHostNeitherReachesNorIsReachedAndHealRestoresEverything) {
  const Listeners* hosts[] = {&h1_, &h2_, &h3_};
  for (const Listeners* from : hosts) {
    for (const Listeners* to : hosts) EXPECT_TRUE(TcpConnects(from->address, *to, true));
  }
  NftIsolation nft = NewLab();
  ASSERT_TRUE(nft.Apply({kH1, Direction::kBoth, ""}).ok());
  EXPECT_TRUE(TcpConnects(kH1, h2_, false));
  EXPECT_TRUE(TcpConnects(kH1, h3_, false));
  EXPECT_TRUE(TcpConnects(kH2, h1_, false));
  EXPECT_TRUE(TcpConnects(kH3, h1_, false));
  EXPECT_TRUE(TcpConnects("127.0.0.1", h1_, false));
  EXPECT_TRUE(UdpDelivers(kH1, h2_, false));
  EXPECT_TRUE(UdpDelivers(kH2, h1_, false));
  EXPECT_TRUE(TcpConnects(kH2, h3_, true));
  EXPECT_TRUE(TcpConnects(kH3, h2_, true));
  EXPECT_TRUE(TcpConnects(kH1, h1_, true));  // a host keeps talking to itself
  EXPECT_TRUE(UdpDelivers(kH2, h3_, true));

  ASSERT_TRUE(nft.Heal().ok());
  for (const Listeners* from : hosts) {
    for (const Listeners* to : hosts) EXPECT_TRUE(TcpConnects(from->address, *to, true));
  }
  EXPECT_TRUE(TcpConnects("127.0.0.1", h1_, true));
  StatusOr<bool> exists = nft.Exists();
  ASSERT_TRUE(exists.ok()) << exists.status().message();
  EXPECT_FALSE(*exists) << "`nft list tables` still shows " << nft.table();
}

TEST_F(NftIsolationTest, OneWayIsolationDropsOneDirectionOnly) {
  NftIsolation nft = NewLab();
  // --from h2: h1 does not hear h2; h2 still hears h1, and h1 hears h3.
  ASSERT_TRUE(nft.Apply({kH1, Direction::kFrom, kH2}).ok());
  EXPECT_TRUE(UdpDelivers(kH2, h1_, false));
  EXPECT_TRUE(UdpDelivers(kH1, h2_, true));
  EXPECT_TRUE(UdpDelivers(kH3, h1_, true));
  ASSERT_TRUE(nft.Heal().ok());
  // --to h2: h2 does not hear h1; h1 still hears h2, and h3 hears h1.
  ASSERT_TRUE(nft.Apply({kH1, Direction::kTo, kH2}).ok());
  EXPECT_TRUE(UdpDelivers(kH1, h2_, false));
  EXPECT_TRUE(UdpDelivers(kH2, h1_, true));
  EXPECT_TRUE(UdpDelivers(kH1, h3_, true));
  ASSERT_TRUE(nft.Heal().ok());
  // --from all: h1 hears nobody, everybody hears h1.
  ASSERT_TRUE(nft.Apply({kH1, Direction::kFrom, ""}).ok());
  EXPECT_TRUE(UdpDelivers(kH2, h1_, false));
  EXPECT_TRUE(UdpDelivers(kH3, h1_, false));
  EXPECT_TRUE(UdpDelivers(kH1, h2_, true));
  EXPECT_TRUE(UdpDelivers(kH1, h1_, true));
  ASSERT_TRUE(nft.Heal().ok());
  EXPECT_TRUE(UdpDelivers(kH2, h1_, true));
}

// A coordinator cut from the replicas (its control port, as a service) or from etcd (the etcd
// ports, between its host and the others): the host's other traffic flows.
TEST_F(NftIsolationTest, PortIsolationDropsOnlyThoseTcpPortsOfTheHost) {
  NftIsolation nft = NewLab();
  ASSERT_TRUE(nft.Apply(PortIsolation{kH1, {h1_.tcp_port}, PortScope::kService}).ok());
  EXPECT_TRUE(TcpConnects(kH2, h1_, false));
  EXPECT_TRUE(TcpConnects(kH1, h1_, false)) << "a service is cut from its own host too";
  EXPECT_TRUE(TcpConnects(kH1, h2_, true));
  EXPECT_TRUE(UdpDelivers(kH2, h1_, true));
  ASSERT_TRUE(nft.Heal().ok());
  ASSERT_TRUE(nft.Apply(PortIsolation{kH1, {h2_.tcp_port, h3_.tcp_port}, PortScope::kLinks}).ok());
  EXPECT_TRUE(TcpConnects(kH1, h2_, false));
  EXPECT_TRUE(TcpConnects(kH1, h3_, false));
  EXPECT_TRUE(TcpConnects(kH3, h2_, true)) << "other hosts keep their links";
  EXPECT_TRUE(TcpConnects(kH2, h1_, true)) << "other ports of the host flow";
  ASSERT_TRUE(nft.Heal().ok());
  EXPECT_TRUE(TcpConnects(kH1, h2_, true));
}

// Why every outgoing connection of a lab host binds its source address: without the bind,
// the kernel picks the loopback route's source, 127.0.0.1, for every destination in 127/8,
// so a process "on h1" would look like nobody in particular and no rule could isolate h1.
TEST_F(NftIsolationTest, WithoutASourceBindAConnectionLeavesFrom127001) {
  StatusOr<int> unbound = ConnectTcp(kH2, h2_.tcp_port, "", kArriveMs);
  ASSERT_TRUE(unbound.ok()) << unbound.status().message();
  EXPECT_EQ(LocalAddress(*unbound), "127.0.0.1");
  ::close(*unbound);
  StatusOr<int> bound = ConnectTcp(kH2, h2_.tcp_port, kH1, kArriveMs);
  ASSERT_TRUE(bound.ok()) << bound.status().message();
  EXPECT_EQ(LocalAddress(*bound), kH1);
  ::close(*bound);
}

TEST_F(NftIsolationTest, HealDeletesOnlyTheLabsOwnTableAndNeedsNoTable) {
  NftIsolation mine = NewLab();
  NftIsolation other = NewLab();
  ASSERT_TRUE(mine.Apply({kH1, Direction::kBoth, ""}).ok());
  ASSERT_TRUE(other.Apply({kH3, Direction::kTo, kH2}).ok());
  ASSERT_TRUE(mine.Heal().ok());
  EXPECT_FALSE(*mine.Exists());
  EXPECT_TRUE(*other.Exists());
  EXPECT_TRUE(TcpConnects(kH2, h1_, true));
  EXPECT_TRUE(UdpDelivers(kH3, h2_, false));  // the other lab's rule still holds
  EXPECT_TRUE(mine.Heal().ok()) << "healing a healed lab is not an error";
}

TEST(ConnectTcp, ErrorsNameTheEndpointAndTheSource) {
  const int closed_port = PickFreePort();  // nothing listens there
  StatusOr<int> refused = ConnectTcp("127.0.0.1", closed_port, "", kArriveMs);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(),
            "connect 127.0.0.1:" + std::to_string(closed_port) + ": Connection refused");
  StatusOr<int> bad_source = ConnectTcp("127.0.0.1", closed_port, "h1", kArriveMs);
  EXPECT_EQ(bad_source.status().code(), Code::kInvalidArgument);
  // getaddrinfo's own reason follows ("Name or service not known", or a resolver's failure).
  EXPECT_EQ(bad_source.status().message().rfind(
                "connect 127.0.0.1:" + std::to_string(closed_port) +
                    " from h1: source h1: not an address or a known host name (",
                0),
            0u)
      << bad_source.status().message();
  EXPECT_EQ(ConnectTcp("127.0.0.1", 0, "", kArriveMs).status().code(), Code::kInvalidArgument);
}

TEST(NftScript, DropsOnTheLoopbackInputHookInTheLabsTable) {
  const std::string both = NftIsolationScript("duplex_lab_x", {"127.0.1.1", Direction::kBoth, ""});
  EXPECT_NE(both.find("table ip duplex_lab_x {"), std::string::npos) << both;
  EXPECT_NE(both.find("type filter hook input priority filter; policy accept;"), std::string::npos)
      << both;
  EXPECT_NE(both.find("iifname \"lo\" ip saddr 127.0.1.1 ip daddr != 127.0.1.1 counter drop"),
            std::string::npos)
      << both;
  EXPECT_NE(both.find("iifname \"lo\" ip daddr 127.0.1.1 ip saddr != 127.0.1.1 counter drop"),
            std::string::npos)
      << both;
  EXPECT_NE(NftIsolationScript("t", {"127.0.1.1", Direction::kFrom, "127.0.2.1"})
                .find("ip saddr 127.0.2.1 ip daddr 127.0.1.1 counter drop"),
            std::string::npos);
  EXPECT_NE(NftIsolationScript("t", {"127.0.1.1", Direction::kTo, ""})
                .find("ip saddr 127.0.1.1 ip daddr != 127.0.1.1 counter drop"),
            std::string::npos);
  EXPECT_EQ(NftHealScript("t"), "table ip t\ndelete table ip t\n");
  const std::string service =
      NftPortIsolationScript("t", PortIsolation{"127.0.1.1", {7401}, PortScope::kService});
  EXPECT_NE(service.find("iifname \"lo\" ip daddr 127.0.1.1 tcp dport { 7401 } counter drop"),
            std::string::npos)
      << service;
  EXPECT_NE(service.find("ip saddr 127.0.1.1 tcp sport { 7401 } counter drop"), std::string::npos)
      << service;
  const std::string links =
      NftPortIsolationScript("t", PortIsolation{"127.0.1.1", {2379, 2380}, PortScope::kLinks});
  EXPECT_NE(links.find("ip saddr 127.0.1.1 ip daddr != 127.0.1.1 tcp dport { 2379, 2380 } "
                       "counter drop"),
            std::string::npos)
      << links;
  EXPECT_NE(links.find("ip daddr 127.0.1.1 ip saddr != 127.0.1.1 tcp sport { 2379, 2380 } "
                       "counter drop"),
            std::string::npos)
      << links;
  EXPECT_EQ(NftTableName("kv_demo_0a1b2c3d"), "duplex_lab_kv_demo_0a1b2c3d");
}

// ---- host processes ----

class HostProcessesTest : public ::testing::Test {
 protected:
  // Stops by pid what the test started and whatever still carries its lab's tag (grandchildren).
  void TearDown() override {
    for (pid_t pid : HostProcesses(lab_id_).Of("")) ::kill(pid, SIGKILL);
    for (pid_t pid : children_) KillAndReap(pid);
  }
  pid_t StartOn(const std::string& host, const std::string& script) {
    SpawnOptions options;
    options.argv = {"/bin/sh", "-c", script};
    options.env = LabEnvironment(lab_id_, host);
    options.stdin_null = true;
    options.group = ChildGroup::kOwn;
    StatusOr<pid_t> pid = Spawn(options);
    EXPECT_TRUE(pid.ok()) << pid.status().message();
    if (pid.ok()) children_.push_back(*pid);
    return pid.ok() ? *pid : 0;
  }
  bool AllIn(const std::vector<pid_t>& pids, ProcessState state) {
    for (pid_t pid : pids) {
      if (StateOf(pid) != state) return false;
    }
    return true;
  }

  std::string lab_id_ = UniqueLabId();
  std::vector<pid_t> children_;
};

TEST_F(HostProcessesTest, CrashKillsEveryProcessOfTheHostGrandchildrenIncludedAndNoOther) {
  HostProcesses lab(lab_id_);
  StartOn("h1", "exec /bin/sleep 60");
  StartOn("h1", "/bin/sleep 60 & wait");  // the shell and its child, as an agent and a replica
  StartOn("h2", "exec /bin/sleep 60");
  StartOn("h2", "exec /bin/sleep 60");
  ASSERT_TRUE(Eventually([&] { return lab.Of("h1").size() == 3 && lab.Of("h2").size() == 2; }))
      << lab.Of("h1").size() << " on h1, " << lab.Of("h2").size() << " on h2";
  const std::vector<pid_t> h1 = lab.Of("h1");
  const std::vector<pid_t> h2 = lab.Of("h2");
  EXPECT_EQ(lab.Of("").size(), 5u);
  EXPECT_EQ(lab.HostOf(h1[0]), "h1");
  EXPECT_EQ(HostProcesses("another_lab").Of(""), std::vector<pid_t>{});

  EXPECT_EQ(lab.Freeze("h1"), 3);
  EXPECT_TRUE(Eventually([&] { return AllIn(h1, ProcessState::kStopped); }));
  EXPECT_TRUE(AllIn(h2, ProcessState::kRunning));
  EXPECT_EQ(lab.Thaw("h1"), 3);
  EXPECT_TRUE(Eventually([&] { return AllIn(h1, ProcessState::kRunning); }));

  StatusOr<int> killed = lab.Crash("h1");
  ASSERT_TRUE(killed.ok()) << killed.status().message();
  EXPECT_EQ(*killed, 3);
  EXPECT_TRUE(lab.Of("h1").empty());
  for (pid_t pid : h1) {
    const ProcessState state = StateOf(pid);
    EXPECT_TRUE(state == ProcessState::kGone || state == ProcessState::kZombie) << pid;
  }
  EXPECT_EQ(lab.Of("h2"), h2);
  EXPECT_TRUE(AllIn(h2, ProcessState::kRunning));
  for (pid_t pid : children_) {
    if (std::find(h1.begin(), h1.end(), pid) == h1.end()) continue;
    std::optional<ExitStatus> exit = WaitExited(pid, kWaitMs);
    ASSERT_TRUE(exit.has_value());
    EXPECT_EQ(exit->signal, SIGKILL);
  }
}

// ---- the plan ----

constexpr char kNoHosts[] = R"(name: kv-lab
data_dir: /srv/kv
host: 127.0.0.1
admin_port: 7400
control_port: 7401
processor: {binary: /opt/kv, version: 1.0.0}
replicas:
  - {name: a, port: 7410, client_port: 7412, http_port: 7411}
  - {name: b, port: 7420, client_port: 7422, http_port: 7421}
)";

constexpr char kTwoHosts[] = R"(name: kv
data_dir: /srv/kv
host: 127.0.0.1
admin_port: 7400
control_port: 7401
processor: {binary: /opt/kv, version: 1.0.0}
hosts:
  - {name: h1, address: 127.0.1.1}
  - {name: h2, address: 127.0.2.1}
replicas:
  - {name: a, host: h1, port: 7410, client_port: 7412, http_port: 7411}
  - {name: b, host: h2, port: 7410, client_port: 7412, http_port: 7411}
)";

ClusterConfig Parsed(const std::string& yaml) {
  StatusOr<ClusterConfig> config = ParseClusterConfig(yaml, "/");
  EXPECT_TRUE(config.ok()) << config.status().message();
  ClusterConfig out = config.ok() ? *config : ClusterConfig{};
  out.source_path = "/srv/cluster.yaml";
  return out;
}

std::string PlanError(const std::string& yaml, int hosts) {
  StatusOr<LabPlan> plan = PlanLab(Parsed(yaml), LabUpOptions{hosts, ""});
  EXPECT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), Code::kInvalidArgument);
  return plan.status().message();
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  const std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return at == std::string::npos ? text : text.replace(at, from.size(), to);
}

TEST(LabPlan, ThreeHostsWithoutNamedOnesPutTheReplicasOnH1AndH2AndTheCoordinatorOnH3) {
  StatusOr<LabPlan> plan = PlanLab(Parsed(kNoHosts), LabUpOptions{3, ""});
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->dir, "/srv/kv/lab");
  EXPECT_TRUE(plan->derived);
  EXPECT_EQ(plan->config_path, "/srv/kv/lab/cluster.yaml");
  EXPECT_TRUE(plan->lab_id.starts_with("kv_lab_")) << plan->lab_id;
  EXPECT_TRUE(IsLabId(plan->lab_id)) << plan->lab_id;
  // What the lab's processes read: the derived config written out and parsed back.
  StatusOr<ClusterConfig> config = ParseClusterConfig(ClusterConfigToYaml(plan->config), "/");
  ASSERT_TRUE(config.ok()) << config.status().message();
  ASSERT_EQ(config->hosts.size(), 3u);
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(config->hosts[k].name, "h" + std::to_string(k + 1));
    EXPECT_EQ(config->hosts[k].address, "127.0." + std::to_string(k + 1) + ".1");
  }
  EXPECT_EQ(config->data_dir, "/srv/kv/lab/data");
  EXPECT_EQ(HostDataDir(*config, config->hosts[0]), "/srv/kv/lab/data/h1");
  EXPECT_EQ(config->replicas[0].host_name, "h1");
  EXPECT_EQ(config->replicas[0].host, "127.0.1.1");
  EXPECT_EQ(config->replicas[1].host_name, "h2");
  EXPECT_EQ(config->replicas[1].port, 7420);  // ports kept
  EXPECT_EQ(config->coordinator_host, "h3");
  EXPECT_EQ(config->host, "127.0.3.1");
  EXPECT_EQ(config->admin_port, 7400);
  EXPECT_EQ(config->control_port, 7401);
}

TEST(LabPlan, DerivedHostsStartAtTheFirstHostNumberGiven) {
  StatusOr<LabPlan> plan = PlanLab(Parsed(kNoHosts), LabUpOptions{3, "", 11});
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  ASSERT_EQ(plan->config.hosts.size(), 3u);
  EXPECT_EQ(plan->config.hosts[0].name, "h1");
  EXPECT_EQ(plan->config.hosts[0].address, "127.0.11.1");
  EXPECT_EQ(plan->config.hosts[2].address, "127.0.13.1");
  EXPECT_EQ(plan->config.replicas[1].host, "127.0.12.1");
  StatusOr<LabPlan> over = PlanLab(Parsed(kNoHosts), LabUpOptions{3, "", 253});
  ASSERT_FALSE(over.ok());
  EXPECT_NE(over.status().message().find("first host number 253"), std::string::npos)
      << over.status().message();
}

TEST(LabPlan, TwoHostsKeepTheCoordinatorOutsideBothAtTheConfigsHost) {
  StatusOr<LabPlan> plan = PlanLab(Parsed(kNoHosts), LabUpOptions{2, "/tmp/elsewhere"});
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->dir, "/tmp/elsewhere");
  EXPECT_EQ(plan->config.hosts.size(), 2u);
  EXPECT_EQ(plan->config.coordinator_host, "");
  EXPECT_EQ(plan->config.host, "127.0.0.1");
  EXPECT_TRUE(ParseClusterConfig(ClusterConfigToYaml(plan->config), "/").ok());
  EXPECT_NE(PlanLab(Parsed(kNoHosts), LabUpOptions{2, ""})->lab_id, plan->lab_id)
      << "two lab directories, two labs";
}

TEST(LabPlan, ADerivedConfigWithoutKeysForEveryMemberGetsTheLabsOwnKeys) {
  StatusOr<LabPlan> plan = PlanLab(Parsed(kNoHosts), LabUpOptions{3, ""});
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->keys_dir, "/srv/kv/lab/keys");
  LabUpOptions plain{3, ""};
  plain.curve = false;
  EXPECT_EQ(PlanLab(Parsed(kNoHosts), plain)->keys_dir, "");
  // Keys for every member the derived config implies: kept as they are.
  ClusterConfig keyed = Parsed(kNoHosts);
  for (const std::string& member : ClusterMembers(plan->config)) {
    keyed.security.public_keys[member] = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
  }
  keyed.security.keys_dir = "/srv/kv/keys";
  EXPECT_EQ(PlanLab(keyed, LabUpOptions{3, ""})->keys_dir, "");
  // An operator's config run as it is: `duplex keys init` gives it keys, not the lab.
  EXPECT_EQ(PlanLab(Parsed(kTwoHosts), LabUpOptions{})->keys_dir, "");
}

TEST(LabPlan, NamedLabHostsAreUsedAsWrittenOrExtendedByHosts) {
  StatusOr<LabPlan> plan = PlanLab(Parsed(kTwoHosts), LabUpOptions{});
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_FALSE(plan->derived);
  EXPECT_EQ(plan->config_path, "/srv/cluster.yaml");
  StatusOr<LabPlan> more = PlanLab(Parsed(kTwoHosts), LabUpOptions{3, ""});
  ASSERT_TRUE(more.ok()) << more.status().message();
  EXPECT_TRUE(more->derived);
  ASSERT_EQ(more->config.hosts.size(), 3u);
  EXPECT_EQ(more->config.hosts[2].name, "h3");
  EXPECT_EQ(more->config.hosts[2].address, "127.0.3.1");
}

TEST(LabPlan, RefusesWhatTheLabCannotRunNamingTheFieldOrFlag) {
  EXPECT_EQ(PlanError(Replace(kTwoHosts, "address: 127.0.2.1", "address: 10.0.0.2"), 0),
            "hosts[1].address: 10.0.0.2: the lab runs hosts on 127.0.N.1 only");
  EXPECT_EQ(PlanError(Replace(kTwoHosts, "address: 127.0.1.1", "address: 127.0.0.5"), 0),
            "hosts[0].address: 127.0.0.5: the lab runs hosts on 127.0.N.1 only");
  EXPECT_EQ(PlanError(kTwoHosts, 1), "--hosts 1: a lab has 2 to 254 hosts");
  EXPECT_EQ(PlanError(Replace(kTwoHosts, "  - {name: h2, address: 127.0.2.1}\n",
                              "  - {name: h2, address: 127.0.2.1}\n"
                              "  - {name: h3, address: 127.0.3.1}\n"),
                      2),
            "--hosts 2: the config names 3 hosts (h1, h2, h3); give at least that many");
  EXPECT_EQ(PlanError(kNoHosts, 0),
            "--hosts N (2..254) is required: /srv/cluster.yaml names no hosts (hosts:)");
  EXPECT_EQ(PlanError(kNoHosts, 255), "--hosts 255: a lab has 2 to 254 hosts");
  EXPECT_TRUE(PlanError(Replace(kNoHosts, "host: 127.0.0.1", "host: 127.0.1.1"), 2)
                  .starts_with("host: 127.0.1.1: a coordinator on no lab host listens here"));
}

// The lab's members start through the shared EtcdArgv: its cluster token and zap logs are
// added only when asked for, after the flags the tests' members get.
TEST(EtcdArgv, AddsTheLabsTokenAndLoggerOnlyWhenSet) {
  EtcdMemberOptions member;
  member.name = "h2";
  member.address = "127.0.18.1";
  member.client_port = 17950;
  member.peer_port = 17951;
  member.data_dir = "/lab/data/h2/etcd";
  const std::vector<std::string> plain = EtcdArgv(member);
  EXPECT_EQ(std::find(plain.begin(), plain.end(), "--initial-cluster-token"), plain.end());
  EXPECT_EQ(std::find(plain.begin(), plain.end(), "--logger"), plain.end());
  member.initial_cluster_token = "lab-1";
  member.logger = "zap";
  std::vector<std::string> expected = plain;
  expected.insert(expected.end(), {"--initial-cluster-token", "lab-1", "--logger", "zap"});
  EXPECT_EQ(EtcdArgv(member), expected);
}

TEST(LabPlan, WithEtcdAMemberAndACoordinatorOnEachOfThreeHosts) {
  LabUpOptions options;
  options.hosts = 3;
  options.first_host_number = 17;
  options.etcd = true;
  options.etcd_client_port = 17950;
  options.etcd_peer_port = 17951;
  StatusOr<LabPlan> plan = PlanLab(Parsed(kNoHosts), options);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  ASSERT_EQ(plan->etcd.size(), 3u);
  ASSERT_EQ(plan->coordinators.size(), 3u);
  EXPECT_EQ(plan->etcd[1].host, "h2");
  EXPECT_EQ(plan->etcd[1].client_url, "http://127.0.18.1:17950");
  EXPECT_EQ(plan->etcd[1].peer_url, "http://127.0.18.1:17951");
  EXPECT_EQ(plan->coordinators[2].host, "h3");
  EXPECT_EQ(plan->coordinators[2].admin, "127.0.19.1:7400");
  // The config the lab's processes read: three coordinators, the records in etcd.
  StatusOr<ClusterConfig> again = ParseClusterConfig(ClusterConfigToYaml(plan->config));
  ASSERT_TRUE(again.ok()) << again.status().message();
  ASSERT_EQ(again->coordinators.size(), 3u);
  EXPECT_EQ(again->coordinators[1].host_name, "h2");
  EXPECT_EQ(again->coordinators[1].address, "127.0.18.1");
  ASSERT_TRUE(again->etcd.has_value());
  EXPECT_EQ(again->etcd->endpoints,
            (std::vector<std::string>{"http://127.0.17.1:17950", "http://127.0.18.1:17950",
                                      "http://127.0.19.1:17950"}));
  EXPECT_EQ(again->etcd->prefix, "/duplex/" + plan->lab_id);
  EXPECT_EQ(again->etcd->lease_ttl_s, 1);

  options.hosts = 2;
  EXPECT_EQ(PlanLab(Parsed(kNoHosts), options).status().message(),
            "--etcd needs --hosts 3 or more (an etcd member and a coordinator on each of three "
            "hosts), got 2");
  options.hosts = 3;
  options.etcd_client_port = 7400;
  EXPECT_EQ(PlanLab(Parsed(kNoHosts), options).status().message(),
            "etcd client port 7400: the coordinators' admin_port or control_port");
  options.etcd_client_port = 7412;
  EXPECT_EQ(PlanLab(Parsed(kNoHosts), options).status().message(),
            "etcd client port 7412: a port of replica a");
  options.etcd_client_port = 17951;
  EXPECT_EQ(PlanLab(Parsed(kNoHosts), options).status().message(),
            "--etcd: the client and peer ports are both 17951");
  options.etcd_client_port = 17950;
  EXPECT_EQ(PlanLab(Parsed(kTwoHosts), options).status().message(),
            "--etcd: the lab derives its hosts, coordinators and etcd members, but "
            "/srv/cluster.yaml names hosts (hosts:)");
}

TEST(LabPlan, ALabHostAddressIs127_0_N_1WithNFrom1To254) {
  EXPECT_EQ(LabHostNumber("127.0.1.1"), 1);
  EXPECT_EQ(LabHostNumber("127.0.254.1"), 254);
  for (const char* bad : {"127.0.0.1", "127.0.255.1", "127.0.01.1", "127.0.1.2", "127.0.x.1",
                          "10.0.1.1", "127.0..1", "127.0.1000.1"}) {
    EXPECT_EQ(LabHostNumber(bad), 0) << bad;
  }
}

// ---- a lab of stand-in processes ----

// A lab whose "duplex" is a shell script: each agent and the coordinator is a shell that
// starts one child (a replica, as it were) and sleeps. Without real agents this tests what
// the lab itself does: start, crash, boot again, take down.
class StandInLabTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("lab_test_" + UniqueLabId());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::string yaml = Replace(kNoHosts, "data_dir: /srv/kv", "data_dir: " + dir_.string());
    yaml = Replace(yaml, "admin_port: 7400", "admin_port: " + std::to_string(PickFreePort()));
    config_ = Parsed(yaml);
  }
  void TearDown() override {
    for (const std::string& id : lab_ids_) {
      for (pid_t pid : HostProcesses(id).Of("")) ::kill(pid, SIGKILL);
      if (::geteuid() == 0) {
        EXPECT_TRUE(NftIsolation(id).Heal().ok());
      }
    }
    for (pid_t pid : pids_) (void)WaitExited(pid, kWaitMs);  // reaped: they were killed
    fs::remove_all(dir_);
  }
  std::string Script(const std::string& name, const std::string& body) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    fs::permissions(path, fs::perms::owner_all);
    return path;
  }
  // The lab's hosts at the isolation tests' addresses (see kH1), for a test that isolates.
  void UseFarHosts() {
    std::string yaml = Replace(kTwoHosts, "data_dir: /srv/kv", "data_dir: " + dir_.string());
    yaml = Replace(yaml, "admin_port: 7400", "admin_port: " + std::to_string(PickFreePort()));
    yaml = Replace(yaml, "address: 127.0.1.1", std::string("address: ") + kH1);
    yaml = Replace(yaml, "address: 127.0.2.1}",
                   std::string("address: ") + kH2 + "}\n  - {name: h3, address: " + kH3 + "}");
    config_ = Parsed(yaml);
  }
  StatusOr<Lab> StartLab(const std::string& binary) {
    StatusOr<LabPlan> plan = PlanLab(config_, LabUpOptions{3, ""});
    if (!plan.ok()) return plan.status();
    lab_ids_.push_back(plan->lab_id);
    StatusOr<Lab> lab = Lab::Start(*plan, binary);
    if (lab.ok()) {
      for (const LabProcessRecord& p : lab->state().processes) pids_.push_back(p.pid);
    }
    return lab;
  }

  fs::path dir_;
  ClusterConfig config_;
  std::vector<std::string> lab_ids_;
  std::vector<pid_t> pids_;
};

TEST_F(StandInLabTest, StartsEveryHostCrashesOneBootsItAgainAndTakesTheLabDown) {
  const std::string binary = Script("duplex", "/bin/sleep 60 &\nexec /bin/sleep 60");
  StatusOr<Lab> lab = StartLab(binary);
  ASSERT_TRUE(lab.ok()) << lab.status().message();
  const std::string lab_dir = (dir_ / "lab").string();
  EXPECT_TRUE(fs::exists(lab_dir + "/lab.json"));
  // CURVE on: a key per member, each secret readable by its owner only.
  StatusOr<ClusterConfig> written = LoadClusterConfig(lab_dir + "/cluster.yaml");
  ASSERT_TRUE(written.ok()) << written.status().message();
  EXPECT_EQ(written->security.keys_dir, lab_dir + "/keys");
  for (const std::string& member : ClusterMembers(*written)) {
    EXPECT_TRUE(written->security.public_keys.contains(member)) << member;
    const fs::path secret = fs::path(lab_dir) / "keys" / (member + ".secret");
    EXPECT_EQ(fs::status(secret).permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write)
        << secret;
  }
  ASSERT_EQ(lab->state().processes.size(), 4u);  // three agents, one coordinator (on h3)
  EXPECT_EQ(lab->state().processes[3].host, "h3");
  const HostProcesses tagged(lab->state().lab_id);
  ASSERT_TRUE(Eventually([&] { return tagged.Of("").size() == 8; })) << tagged.Of("").size();
  EXPECT_EQ(Lab::Start(*PlanLab(config_, LabUpOptions{3, ""}), binary).status().code(),
            Code::kFailedPrecondition);

  EXPECT_EQ(lab->Crash("h9").status().message(), "unknown host h9: the lab's hosts are h1, h2, h3");
  StatusOr<int> killed = lab->Crash("h1");
  ASSERT_TRUE(killed.ok()) << killed.status().message();
  EXPECT_EQ(*killed, 2);  // the agent and its child
  nlohmann::json status = lab->StatusJson();
  EXPECT_EQ(status["hosts"][0]["processes"][0]["state"], "gone") << status.dump(2);
  EXPECT_EQ(status["hosts"][2]["processes"].size(), 4u) << status.dump(2);

  StatusOr<std::vector<LabProcessRecord>> booted = lab->StartHost("h1", binary);
  ASSERT_TRUE(booted.ok()) << booted.status().message();
  ASSERT_EQ(booted->size(), 1u);
  pids_.push_back((*booted)[0].pid);
  EXPECT_EQ(lab->StartHost("h1", binary)->size(), 0u) << "its agent runs already";
  ASSERT_TRUE(Eventually([&] { return tagged.Of("h1").size() == 2; }));
  StatusOr<Lab> reopened = Lab::Open(lab_dir);
  ASSERT_TRUE(reopened.ok()) << reopened.status().message();
  EXPECT_EQ(LabStateToJson(reopened->state()), LabStateToJson(lab->state()));

  StatusOr<int> stopped = lab->Down();
  ASSERT_TRUE(stopped.ok()) << stopped.status().message();
  EXPECT_EQ(*stopped, 8);
  EXPECT_TRUE(tagged.Of("").empty());
  EXPECT_FALSE(fs::exists(lab_dir + "/lab.json"));
  EXPECT_TRUE(fs::exists(lab_dir + "/data/h1/agent.log")) << "data is kept";
  EXPECT_EQ(Lab::Open(lab_dir).status().message(), "no lab is up at " + lab_dir + " (no lab.json)");
}

TEST_F(StandInLabTest, WaitingForAnActiveStopsAtOnceWhenAProcessOfTheLabExits) {
  StatusOr<Lab> lab = StartLab(Script("duplex", "echo no such command >&2; exit 3"));
  ASSERT_TRUE(lab.ok()) << lab.status().message();
  StatusOr<std::string> active = lab->WaitActive(kWaitMs);
  ASSERT_FALSE(active.ok());
  EXPECT_NE(active.status().message().find(" exited with 3 at start; see "), std::string::npos)
      << active.status().message();
  EXPECT_TRUE(lab->Down().ok());
}

// A port of 17900..17999 (this test's share of the lab tests' range) that nothing holds on any
// address, other than `not_this`.
int FreeLabPort(int not_this) {
  for (int port = 17900; port <= 17999; ++port) {
    if (port == not_this) continue;
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const sockaddr_in addr = Endpoint("0.0.0.0", port);
    const bool free = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (free) return port;
  }
  ADD_FAILURE() << "no free port in 17900..17999";
  return 0;
}

// Real etcd members (the agents and coordinators stand-ins) at 127.0.17.1 .. 127.0.19.1 on
// ports of the lab's range: they form a cluster, a crashed host's member is down while the two
// others keep the quorum, it rejoins when the host boots, and down stops them all.
TEST_F(StandInLabTest, EtcdMembersFormAClusterFollowTheirHostAndGoDownWithTheLab) {
  if (::access(kEtcdBinary, X_OK) != 0) GTEST_SKIP() << "needs " << kEtcdBinary;
  const std::string binary = Script("duplex", "exec /bin/sleep 60");
  LabUpOptions options;
  options.hosts = 3;
  options.first_host_number = 17;
  options.etcd = true;
  options.etcd_client_port = FreeLabPort(0);
  options.etcd_peer_port = FreeLabPort(options.etcd_client_port);
  StatusOr<LabPlan> plan = PlanLab(config_, options);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  lab_ids_.push_back(plan->lab_id);
  StatusOr<Lab> lab = Lab::Start(*plan, binary);
  ASSERT_TRUE(lab.ok()) << lab.status().message();
  for (const LabProcessRecord& p : lab->state().processes) pids_.push_back(p.pid);
  // Three members, three agents, three coordinators (each told its host).
  ASSERT_EQ(lab->state().processes.size(), 9u);
  EXPECT_EQ(lab->state().processes[0].role, LabRole::kEtcd);
  auto health = [&](std::size_t member) {
    return lab->StatusJson()["etcd"][member].value("health", "");
  };
  ASSERT_TRUE(Eventually([&] {
    return health(0) == "healthy" && health(1) == "healthy" && health(2) == "healthy";
  })) << lab->StatusJson()["etcd"].dump(2);
  EXPECT_EQ(lab->StatusJson()["coordinators"][0].value("role", ""), "down")
      << "the stand-in coordinators answer no /status";

  ASSERT_TRUE(lab->Crash("h1").ok());
  for (const LabProcessRecord& p : lab->state().processes) {
    if (p.host == "h1") (void)WaitExited(p.pid, kWaitMs);
  }
  EXPECT_EQ(health(0), "down");
  EXPECT_TRUE(Eventually([&] { return health(1) == "healthy"; })) << "two members are a quorum";
  StatusOr<std::vector<LabProcessRecord>> booted = lab->StartHost("h1", binary);
  ASSERT_TRUE(booted.ok()) << booted.status().message();
  ASSERT_EQ(booted->size(), 3u);  // its member, agent and coordinator
  for (const LabProcessRecord& p : *booted) pids_.push_back(p.pid);
  EXPECT_EQ((*booted)[0].role, LabRole::kEtcd);
  EXPECT_TRUE(Eventually([&] { return health(0) == "healthy"; })) << "it rejoins on its data";

  StatusOr<pid_t> killed = lab->Signal(LabRole::kEtcd, "h2", SIGKILL);
  ASSERT_TRUE(killed.ok()) << killed.status().message();
  (void)WaitExited(*killed, kWaitMs);
  EXPECT_EQ(lab->Signal(LabRole::kEtcd, "h2", SIGKILL).status().code(), Code::kNotFound);
  StatusOr<std::optional<LabProcessRecord>> again = lab->Start(LabRole::kEtcd, "h2", binary);
  ASSERT_TRUE(again.ok() && again->has_value()) << again.status().message();
  pids_.push_back((*again)->pid);
  EXPECT_FALSE(lab->Start(LabRole::kEtcd, "h2", binary)->has_value()) << "it runs already";
  EXPECT_TRUE(Eventually([&] { return health(1) == "healthy"; }));

  StatusOr<int> stopped = lab->Down();
  ASSERT_TRUE(stopped.ok()) << stopped.status().message();
  EXPECT_TRUE(HostProcesses(lab->state().lab_id).Of("").empty());
}

TEST_F(StandInLabTest, IsolationIsRecordedAndDownHealsIt) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (nftables)";
  UseFarHosts();
  StatusOr<Lab> lab = StartLab(Script("duplex", "exec /bin/sleep 60"));
  ASSERT_TRUE(lab.ok()) << lab.status().message();
  EXPECT_EQ(lab->state().hosts[2].address, kH3);
  EXPECT_EQ(lab->Isolate("h1", Direction::kFrom, "h1").message(),
            "--from h1: a host is never isolated from itself");
  EXPECT_EQ(lab->Isolate("h1", Direction::kTo, "h7").message(),
            "--to h7: unknown host h7: the lab's hosts are h1, h2, h3 (or all)");
  ASSERT_TRUE(lab->Isolate("h1", Direction::kBoth, "").ok());
  ASSERT_TRUE(lab->Isolate("h2", Direction::kFrom, "all").ok());
  ASSERT_TRUE(lab->Isolate("h2", Direction::kFrom, "all").ok());  // in force already
  EXPECT_EQ(lab->state().isolation.size(), 2u);
  EXPECT_EQ(Lab::Open(lab->state().dir)->state().isolation, lab->state().isolation);
  const NftIsolation nft(lab->state().lab_id);
  EXPECT_TRUE(*nft.Exists());
  ASSERT_TRUE(lab->Down().ok());
  EXPECT_FALSE(*nft.Exists());
}

}  // namespace
}  // namespace duplex::lab
