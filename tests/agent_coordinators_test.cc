// A real node agent (`duplex agent`) of a cluster with three coordinators: it sends every
// report to each of them and takes desired states from any, keeping to the highest
// coordinator term it has seen. The coordinators are bare ROUTER sockets of this test, on
// 127.0.231.1-127.0.233.1 (apart from the lab's addresses) at ports the kernel picks. Every
// wait is bounded; the agent is stopped by its pid, also when an assertion fails.
#include <gtest/gtest.h>
#include <signal.h>
#include <zmq.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/net.h"
#include "common/subprocess.h"
#include "replica/zmq_util.h"
#include "upgrade_coordinator/agent/agent_protocol.h"

namespace duplex {
namespace {

constexpr size_t kFrameBytesMax = 16 << 20;
constexpr int kWaitMs = 10000;

std::string BuildDir() {
  const char* env = std::getenv("DUPLEX_BUILD_DIR");
  return env != nullptr ? env : "build";
}

// A coordinator as an agent sees it: a ROUTER that hears reports and can answer.
struct FakeCoordinator {
  FakeCoordinator(void* ctx, const std::string& address) : socket(ctx, ZMQ_ROUTER, kFrameBytesMax) {
    const std::string bind = "tcp://" + address + ":*";
    EXPECT_EQ(zmq_bind(socket.s, bind.c_str()), 0) << bind << ": " << zmq_strerror(zmq_errno());
    char last[256] = {};
    size_t size = sizeof(last);
    zmq_getsockopt(socket.s, ZMQ_LAST_ENDPOINT, last, &size);
    const std::string endpoint = last;
    port = std::stoi(endpoint.substr(endpoint.rfind(':') + 1));
  }
  std::vector<AgentReport> Reports() {
    std::vector<AgentReport> out;
    for (auto parts = RecvParts(socket.s); !parts.empty(); parts = RecvParts(socket.s)) {
      if (parts.size() != 3 || parts[1] != kAgentTag) continue;
      auto frame = DecodeAgentFrame(parts[2], kFrameBytesMax);
      if (!frame.ok() || !std::holds_alternative<AgentReport>(*frame)) continue;
      route = parts[0];
      out.push_back(std::get<AgentReport>(*frame));
    }
    return out;
  }
  void Send(const DesiredState& desired) {
    ASSERT_FALSE(route.empty()) << "port " << port << " has not heard the agent";
    const std::string frame = EncodeAgentFrame(desired);
    SendMultipart(socket.s, {route, kAgentTag, frame});
  }

  ZSocket socket;
  int port = 0;
  std::string route;
};

struct Process {
  ~Process() {
    if (pid <= 0) return;
    ::kill(pid, SIGTERM);
    if (!WaitExited(pid, 5000)) KillAndReap(pid);
  }
  pid_t pid = 0;
};

class AgentCoordinatorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* address : kAddresses) {
      coordinators_.push_back(std::make_unique<FakeCoordinator>(ctx_.ctx, address));
    }
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("duplex_agent_coordinators_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    agent_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string Config() const {
    auto port = [](int p) { return std::to_string(p); };
    std::string yaml = "name: agents\ndata_dir: " + dir_.string() +
                       "\nprocessor: {binary: " + BuildDir() +
                       "/examples/kv/kv-1.0.0, version: 1.0.0}\nhosts:\n";
    for (int i = 0; i < 3; ++i) {
      yaml += "  - {name: h" + port(i + 1) + ", address: " + kAddresses[i] + "}\n";
    }
    yaml += "coordinators:\n";
    for (int i = 0; i < 3; ++i) {
      yaml += "  - {host: h" + port(i + 1) + ", admin_port: " + port(PickFreePort()) +
              ", control_port: " + port(coordinators_[i]->port) + "}\n";
    }
    yaml += "records: {etcd: {endpoints: [http://127.0.231.1:2379], prefix: /duplex/agents}}\n";
    yaml += "replicas:\n";
    for (const char* name : {"a", "b"}) {
      yaml += std::string("  - {name: ") + name + ", host: h" + (name[0] == 'a' ? "1" : "2") +
              ", port: " + port(PickFreePort()) + ", client_port: " + port(PickFreePort()) +
              ", http_port: " + port(PickFreePort()) + "}\n";
    }
    return yaml;
  }

  void StartAgent() {
    const std::string config = (dir_ / "cluster.yaml").string();
    std::ofstream(config) << Config();
    SpawnOptions o;
    o.argv = {BuildDir() + "/duplex", "-c", config, "agent", "--host", "h1"};
    o.stdout_to = ChildOutput::kLogFile;
    o.stderr_to = ChildOutput::kLogFile;
    o.log_path = (dir_ / "agent.log").string();
    o.die_with_parent = true;
    auto pid = Spawn(o);
    ASSERT_TRUE(pid.ok()) << pid.status().ToString();
    agent_ = std::make_unique<Process>();
    agent_->pid = *pid;
  }

  // Polls coordinator `i` until a report satisfies `want` (bounded by kWaitMs); every report
  // seen on the way goes through `seen` too.
  std::optional<AgentReport> AwaitReport(
      size_t i, const std::function<bool(const AgentReport&)>& want,
      const std::function<void(const AgentReport&)>& seen = [](const AgentReport&) {}) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kWaitMs);
    while (std::chrono::steady_clock::now() < deadline) {
      zmq_pollitem_t item = {coordinators_[i]->socket.s, 0, ZMQ_POLLIN, 0};
      zmq_poll(&item, 1, 20);
      for (const AgentReport& r : coordinators_[i]->Reports()) {
        seen(r);
        if (want(r)) return r;
      }
    }
    return std::nullopt;
  }

  static DesiredState Desired(uint64_t generation, uint64_t term) {
    DesiredState d;
    d.host = "h1";
    d.generation = generation;
    d.term = term;
    return d;
  }

  static constexpr const char* kAddresses[3] = {"127.0.231.1", "127.0.232.1", "127.0.233.1"};
  ZContext ctx_;  // first: outlives the sockets
  std::vector<std::unique_ptr<FakeCoordinator>> coordinators_;
  std::filesystem::path dir_;
  std::unique_ptr<Process> agent_;
};

TEST_F(AgentCoordinatorsTest, AnAgentReportsToEveryCoordinatorAndFollowsTheHighestTerm) {
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  for (size_t i = 0; i < coordinators_.size(); ++i) {
    ASSERT_TRUE(AwaitReport(i, [](const AgentReport& r) { return r.host == "h1"; }))
        << "coordinator " << i << " never heard the agent";
  }

  // The leader of term 5 (the second coordinator): every coordinator hears the agent follow.
  coordinators_[1]->Send(Desired(7, 5));
  for (size_t i = 0; i < coordinators_.size(); ++i) {
    ASSERT_TRUE(
        AwaitReport(i, [](const AgentReport& r) { return r.generation == 7 && r.term == 5; }))
        << "coordinator " << i << " never saw generation 7";
  }

  // A deposed leader (term 4, the first coordinator) asks for replica a (of a package the
  // host lacks: followed, it would show as a failed start in every later report). Then the
  // same coordinator at term 5 again: one connection keeps them in order, so once that
  // generation shows, the stale one has been read.
  DesiredState stale = Desired(9, 4);
  stale.replicas = {{"a", 1, true, "missing", "1.0.0", {}, 3000}};
  coordinators_[0]->Send(stale);
  coordinators_[0]->Send(Desired(8, 5));
  auto after = AwaitReport(2, [](const AgentReport& r) { return r.generation == 8; });
  ASSERT_TRUE(after) << "term 5's second desired state was never followed";
  EXPECT_TRUE(after->processes.empty()) << "the agent followed a desired state of an older "
                                           "term: "
                                        << after->processes.front().last_exit;

  // A newer leader (term 6, the third coordinator) is followed.
  coordinators_[2]->Send(Desired(3, 6));
  EXPECT_TRUE(AwaitReport(0, [](const AgentReport& r) { return r.generation == 3; }));
}

}  // namespace
}  // namespace duplex
