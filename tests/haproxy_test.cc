// HAProxy from Debian in front of a real pair, with examples/haproxy/haproxy.cfg (its ports
// rewritten to the pair's): the config passes `haproxy -c`, clients that know only HAProxy's
// address write through it, the active is killed, and the clients go on through HAProxy to
// the new active with nothing lost; the longest gap between acknowledged writes is printed.
// 127.0.0.1, ports 49100-49150.
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "chaos/workload.h"
#include "common/clock.h"
#include "common/subprocess.h"
#include "tests/test_support.h"

namespace duplex {
namespace {

using testing::ScratchDir;

constexpr int kFrontendPort = 49150;
constexpr const char* kHaproxy = "/usr/sbin/haproxy";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Replaces every `from` in `text` with `to`; the count of replacements.
int ReplaceAll(std::string* text, const std::string& from, const std::string& to) {
  int n = 0;
  for (size_t at = text->find(from); at != std::string::npos; at = text->find(from, at)) {
    text->replace(at, from.size(), to);
    at += to.size();
    ++n;
  }
  return n;
}

// The example config with the example cluster's endpoints turned into this pair's.
std::string HaproxyConfigFor(const ClusterConfig& config) {
  std::string cfg = ReadFile(std::string(DUPLEX_SOURCE_DIR) + "/examples/haproxy/haproxy.cfg");
  EXPECT_FALSE(cfg.empty()) << "examples/haproxy/haproxy.cfg not found";
  EXPECT_EQ(
      ReplaceAll(&cfg, "bind 127.0.0.1:7402", "bind 127.0.0.1:" + std::to_string(kFrontendPort)),
      1);
  const char* example[2][2] = {{"7412", "7411"}, {"7422", "7421"}};
  for (int i = 0; i < 2; ++i) {
    const ReplicaConfig& r = config.replicas.at(i);
    EXPECT_EQ(ReplaceAll(&cfg, "127.0.0.1:" + std::string(example[i][0]),
                         r.host + ":" + std::to_string(r.client_port)),
              1);
    EXPECT_EQ(ReplaceAll(&cfg, "check port " + std::string(example[i][1]),
                         "check port " + std::to_string(r.http_port)),
              1);
  }
  return cfg;
}

// The haproxy process of a test, stopped by its pid whatever happens.
struct HaproxyProcess {
  pid_t pid = 0;
  ~HaproxyProcess() {
    if (pid > 0) KillAndReap(pid);
  }
};

TEST(Haproxy, ClientsThroughHaproxyFollowAFailoverAndLoseNothing) {
  if (access(kHaproxy, X_OK) != 0) GTEST_SKIP() << kHaproxy << " is missing (make deps)";
  FixtureOptions options;
  options.dir = ScratchDir();
  options.port_first = 49100;
  options.port_last = 49149;
  auto started = ClusterFixture::Start(options);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  auto& cluster = **started;
  DUPLEX_ASSERT_OK(cluster.WaitReady(20000));

  const std::string cfg_path = options.dir + "/haproxy.cfg";
  std::ofstream(cfg_path) << HaproxyConfigFor(cluster.config());
  SpawnOptions check;
  check.argv = {kHaproxy, "-c", "-f", cfg_path};
  check.stdout_to = check.stderr_to = ChildOutput::kCapture;
  auto checked = RunProgram(check, 10000);
  ASSERT_TRUE(checked.ok()) << checked.status().ToString();
  ASSERT_TRUE(checked->exit.success()) << "haproxy -c: " << checked->output;

  HaproxyProcess haproxy;
  SpawnOptions run;
  run.argv = {kHaproxy, "-db", "-f", cfg_path};  // -db: in the foreground, our child
  run.stdin_null = true;
  run.stdout_to = run.stderr_to = ChildOutput::kLogFile;
  run.log_path = options.dir + "/haproxy.log";
  run.group = ChildGroup::kOwn;
  run.die_with_parent = true;
  auto pid = Spawn(run);
  ASSERT_TRUE(pid.ok()) << pid.status().ToString();
  haproxy.pid = *pid;

  WorkloadOptions w;
  w.endpoints = {"tcp://127.0.0.1:" + std::to_string(kFrontendPort)};  // HAProxy's only
  w.clients = 3;
  Workload workload(w);
  workload.Start();
  DUPLEX_ASSERT_OK(workload.WaitAcked(300, 15000));
  const int64_t steady_from = NowUs();
  DUPLEX_ASSERT_OK(workload.WaitAcked(workload.acked() + 300, 10000));
  const int64_t fault_from = NowUs();
  const AckGap steady = workload.LongestAckGap(steady_from, fault_from);

  auto active = cluster.ActiveName();
  ASSERT_TRUE(active.ok()) << active.status().ToString();
  auto epoch = cluster.Epoch();
  ASSERT_TRUE(epoch.ok());
  ASSERT_TRUE(cluster.SignalReplica(*active, SIGKILL).ok());
  DUPLEX_ASSERT_OK(cluster.WaitFor(
      [&](const nlohmann::json& s) { return s.value("epoch", uint64_t{0}) > *epoch; }, 5000,
      "a new epoch after killing " + *active));
  DUPLEX_ASSERT_OK(workload.WaitAcked(workload.acked() + 500, 15000));
  const AckGap during = workload.LongestAckGap(fault_from, NowUs());
  ASSERT_FALSE(WaitExited(haproxy.pid, 0).has_value()) << ReadFile(run.log_path);
  std::printf(
      "through HAProxy: active %s killed, longest gap between acknowledged writes "
      "%.1f ms (steady %.1f ms)\n",
      active->c_str(), during.length_us / 1000.0, steady.length_us / 1000.0);
  workload.Stop();

  CheckResult result = workload.Check();
  EXPECT_EQ(result.lost, 0u) << ::testing::PrintToString(result.problems);
  EXPECT_EQ(result.double_applied, 0u) << ::testing::PrintToString(result.problems);
  EXPECT_EQ(result.phantom, 0u) << ::testing::PrintToString(result.problems);
  // Bounded, not a performance figure: a client that never reached the new active (HAProxy
  // kept sending it to the dead one) would stall until WaitAcked failed above.
  EXPECT_LT(during.length_us, 5'000'000);
  cluster.Stop();
}

}  // namespace
}  // namespace duplex
