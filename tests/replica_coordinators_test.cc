// A real replica process (build/examples/kv/kv-1.0.0) told of three coordinators: it sends
// every status to each of them and takes assignments from any, keeping to the highest
// coordinator term it has seen. The coordinators are bare ROUTER sockets of this test on
// 127.0.0.1 (ports the kernel picks); the replica's own ports are free ones. Every wait is
// bounded; the replica is stopped by its pid, also when an assertion fails.
#include <gtest/gtest.h>
#include <signal.h>
#include <zmq.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/net.h"
#include "common/subprocess.h"
#include "replica/frame.h"
#include "replica/zmq_util.h"

namespace duplex {
namespace {

constexpr size_t kFrameBytesMax = 16 << 20;
constexpr int kWaitMs = 10000;

std::string BuildDir() {
  const char* env = std::getenv("DUPLEX_BUILD_DIR");
  return env != nullptr ? env : "build";
}

// A coordinator as the replica sees it: a ROUTER that hears statuses and can answer.
struct FakeCoordinator {
  explicit FakeCoordinator(void* ctx) : socket(ctx, ZMQ_ROUTER, kFrameBytesMax) {
    EXPECT_EQ(zmq_bind(socket.s, "tcp://127.0.0.1:*"), 0) << zmq_strerror(zmq_errno());
    char last[256] = {};
    size_t size = sizeof(last);
    zmq_getsockopt(socket.s, ZMQ_LAST_ENDPOINT, last, &size);
    endpoint = last;
  }
  // The statuses waiting, the replica's route kept for answers.
  std::vector<StatusReport> Statuses() {
    std::vector<StatusReport> out;
    for (auto parts = RecvParts(socket.s); !parts.empty(); parts = RecvParts(socket.s)) {
      if (parts.size() != 2) continue;
      auto frame = DecodeFrame(parts[1], kFrameBytesMax);
      if (!frame.ok() || !std::holds_alternative<StatusReport>(*frame)) continue;
      route = parts[0];
      out.push_back(std::get<StatusReport>(*frame));
    }
    return out;
  }
  void Assign(const Assignment& a) {
    ASSERT_FALSE(route.empty()) << endpoint << " has not heard the replica";
    SendParts(socket.s, &route, EncodeFrame(a));
  }

  ZSocket socket;
  std::string endpoint;
  std::string route;
};

// The replica process, stopped (SIGTERM, then SIGKILL) and reaped whatever happened.
struct Replica {
  ~Replica() {
    if (pid <= 0) return;
    ::kill(pid, SIGTERM);
    if (!WaitExited(pid, 5000)) KillAndReap(pid);
  }
  pid_t pid = 0;
};

class ReplicaCoordinatorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 3; ++i)
      coordinators_.push_back(std::make_unique<FakeCoordinator>(ctx_.ctx));
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("duplex_replica_coordinators_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    replica_.reset();
    std::filesystem::remove_all(dir_);
  }

  void StartReplica() {
    std::string list;
    for (auto& c : coordinators_) list += (list.empty() ? "" : ",") + c->endpoint;
    SpawnOptions o;
    o.argv = {BuildDir() + "/examples/kv/kv-1.0.0",
              "--name",
              "a",
              "--host",
              "127.0.0.1",
              "--port",
              std::to_string(PickFreePort()),
              "--client-port",
              std::to_string(PickFreePort()),
              "--http-port",
              std::to_string(PickFreePort()),
              "--data-dir",
              (dir_ / "a").string(),
              "--coordinator",
              list,
              "--heartbeat-ms",
              "20"};
    o.stdout_to = ChildOutput::kLogFile;
    o.stderr_to = ChildOutput::kLogFile;
    o.log_path = (dir_ / "a.log").string();
    o.die_with_parent = true;
    auto pid = Spawn(o);
    ASSERT_TRUE(pid.ok()) << pid.status().ToString();
    replica_ = std::make_unique<Replica>();
    replica_->pid = *pid;
  }

  // Polls coordinator `i` until a status satisfies `want` (bounded by kWaitMs).
  std::optional<StatusReport> AwaitStatus(size_t i,
                                          const std::function<bool(const StatusReport&)>& want) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kWaitMs);
    while (std::chrono::steady_clock::now() < deadline) {
      zmq_pollitem_t item = {coordinators_[i]->socket.s, 0, ZMQ_POLLIN, 0};
      zmq_poll(&item, 1, 20);
      for (const StatusReport& s : coordinators_[i]->Statuses()) {
        if (want(s)) return s;
      }
    }
    return std::nullopt;
  }

  ZContext ctx_;  // first: outlives the sockets
  std::vector<std::unique_ptr<FakeCoordinator>> coordinators_;
  std::filesystem::path dir_;
  std::unique_ptr<Replica> replica_;
};

TEST_F(ReplicaCoordinatorsTest, AReplicaReportsToEveryCoordinatorAndFollowsTheHighestTerm) {
  ASSERT_NO_FATAL_FAILURE(StartReplica());
  for (size_t i = 0; i < coordinators_.size(); ++i) {
    ASSERT_TRUE(AwaitStatus(i, [](const StatusReport& s) { return s.replica == "a"; }))
        << "coordinator " << i << " never heard the replica";
  }

  // The leader of term 5 (the second coordinator) makes it active; every coordinator sees it.
  Assignment active;
  active.epoch = 1;
  active.role = WireRole::kActive;
  active.skip_lease_wait = true;
  active.coordinator_term = 5;
  coordinators_[1]->Assign(active);
  for (size_t i = 0; i < coordinators_.size(); ++i) {
    ASSERT_TRUE(AwaitStatus(
        i, [](const StatusReport& s) { return s.role == WireRole::kActive && s.epoch == 1; }))
        << "coordinator " << i << " never saw the replica active";
  }

  // A deposed leader (term 4, the first coordinator) takes it out of service: ignored.
  Assignment stale;
  stale.epoch = 2;
  stale.role = WireRole::kOutOfService;
  stale.coordinator_term = 4;
  coordinators_[0]->Assign(stale);
  auto after = AwaitStatus(2, [](const StatusReport& s) { return s.stale_term_assignments == 1; });
  ASSERT_TRUE(after) << "the stale assignment was never counted";
  EXPECT_EQ(after->role, WireRole::kActive);
  EXPECT_EQ(after->epoch, 1u);

  // The new leader's word (term 6) is taken, from the third coordinator.
  Assignment newer = stale;
  newer.coordinator_term = 6;
  coordinators_[2]->Assign(newer);
  EXPECT_TRUE(AwaitStatus(
      0, [](const StatusReport& s) { return s.role == WireRole::kOutOfService && s.epoch == 2; }));
}

}  // namespace
}  // namespace duplex
