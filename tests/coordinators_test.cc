// Three `duplex coordinator` processes (build/duplex) on lab hosts 127.0.41.1..127.0.43.1,
// electing their leader in a 3-member etcd on 127.0.0.1, with no replica running: exactly one
// leads, the admin client finds it through the config, a SIGKILLed leader is replaced, and a
// frozen one steps down when it thaws. Every coordinator's /status is polled throughout, and
// no two coordinators ever claim to lead in the same term. Ports 31000-31999; every process is
// stopped by its pid. Measured times are printed.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "chaos/lab/etcd_process.h"
#include "chaos/lab/lab_keys.h"
#include "common/clock.h"
#include "common/subprocess.h"
#include "upgrade_coordinator/admin_client.h"
#include "upgrade_coordinator/cluster_config.h"
#include "upgrade_coordinator/etcd/etcd_test_ports.h"

namespace duplex {
namespace {

constexpr int kCoordinators = 3;
constexpr int kHealthyMs = 15000;
constexpr int kFirstLeaderMs = 10000;  // three processes start and one wins
constexpr int kFailoverMs = 2500;      // a SIGKILLed leader's key expires (ttl 1 s) and is taken
constexpr int kFreezeMs = 3000;
// A thawed leader's first answer says it follows; it comes within this (the loop's first turn
// after the thaw, on a loaded machine).
constexpr int kThawAnswerMs = 1000;
constexpr int kPollTimeoutMs = 200;
constexpr int kStopGraceMs = 5000;

std::string BuildDir() {
  const char* env = std::getenv("DUPLEX_BUILD_DIR");
  return std::filesystem::absolute(env != nullptr ? env : "build").string();
}

std::string HostAddress(int i) { return "127.0." + std::to_string(41 + i) + ".1"; }

// What one poll saw of one coordinator.
struct Seen {
  bool answered = false;
  std::string role;  // "leader" | "follower"
  uint64_t term = 0;
  std::string leader;  // the leader it names
};

class Coordinators : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::access(lab::kEtcdBinary, X_OK), 0)
        << "this test needs etcd: " << lab::kEtcdBinary
        << " is missing (install it with scripts/install-deps: Debian's etcd-server)";
    ASSERT_EQ(::access((BuildDir() + "/duplex").c_str(), X_OK), 0)
        << BuildDir() << "/duplex is not built";
    const int etcd_port = etcd_test::FreePortRun(2 * kCoordinators);
    ASSERT_NE(etcd_port, 0) << "no free ports in 31000-31999";
    auto cluster = lab::EtcdCluster::Start(kCoordinators, "127.0.0.1", etcd_port, kHealthyMs);
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    etcd_ = std::move(cluster).value();
    std::string pattern = "/tmp/duplex-coordinators-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    ASSERT_NO_FATAL_FAILURE(WriteConfig());
  }

  void TearDown() override {
    // SIGCONT first: a process stopped by a failed test would never see the SIGTERM.
    for (size_t i = 0; i < pids_.size(); ++i) {
      const pid_t pid = pids_[i];
      if (pid <= 0) continue;
      ::kill(pid, SIGCONT);
      ::kill(pid, SIGTERM);
      std::optional<ExitStatus> exit = WaitExited(pid, kStopGraceMs);
      if (!exit.has_value()) KillAndReap(pid);
      // A stop ends cleanly: its elector resigns and its thread is joined. Under ASan+UBSan
      // an error or a leak found at shutdown ends it otherwise (its log says which).
      EXPECT_TRUE(exit.has_value() && exit->success())
          << "coordinator h" << i + 1 << " stopped by SIGTERM "
          << (exit ? exit->Describe()
                   : "did not exit within " + std::to_string(kStopGraceMs) + " ms")
          << "; its log: " << dir_ << "/coordinator-h" << i + 1 << ".log";
    }
    etcd_.reset();
    std::error_code ec;
    if (!HasFailure()) std::filesystem::remove_all(dir_, ec);  // kept for its logs otherwise
  }

  void WriteConfig() {
    const int port = etcd_test::FreePortRun(2 * kCoordinators + 6);
    ASSERT_NE(port, 0) << "no free ports in 31000-31999";
    std::string endpoints;
    for (const std::string& e : etcd_->Endpoints())
      endpoints += (endpoints.empty() ? "" : ", ") + e;
    std::ostringstream yaml;
    yaml << "name: ha-test\ndata_dir: " << dir_ << "/data\n"
         << "processor: {binary: /bin/true, version: 1.0.0}\nhosts:\n";
    for (int i = 0; i < kCoordinators; ++i) {
      yaml << "  - {name: h" << i + 1 << ", address: " << HostAddress(i) << "}\n";
    }
    yaml << "coordinators:\n";
    for (int i = 0; i < kCoordinators; ++i) {
      yaml << "  - {host: h" << i + 1 << ", admin_port: " << port + 2 * i
           << ", control_port: " << port + 2 * i + 1 << "}\n";
    }
    yaml << "records: {etcd: {endpoints: [" << endpoints << "], prefix: /duplex/coordinators-"
         << ::getpid() << ", lease_ttl_s: 1}}\n"
         << "replicas:\n";
    for (int r = 0; r < 2; ++r) {
      const int p = port + 2 * kCoordinators + 3 * r;
      yaml << "  - {name: " << (r == 0 ? "a" : "b") << ", host: h" << r + 1 << ", port: " << p
           << ", client_port: " << p + 1 << ", http_port: " << p + 2 << "}\n";
    }
    config_path_ = dir_ + "/cluster.yaml";
    std::ofstream(config_path_) << yaml.str();
    auto config = LoadClusterConfig(config_path_);
    ASSERT_TRUE(config.ok()) << config.status().ToString() << "\n" << yaml.str();
    // CURVE on the coordinators' control ports, as everywhere: a key pair per member.
    const Status keys = lab::AddClusterKeys(&*config, dir_ + "/keys");
    ASSERT_TRUE(keys.ok()) << keys.ToString();
    std::ofstream(config_path_) << ClusterConfigToYaml(*config);
    config = LoadClusterConfig(config_path_);
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    config_ = *config;
  }

  void StartAll() {
    for (int i = 0; i < kCoordinators; ++i) {
      const std::string host = "h" + std::to_string(i + 1);
      SpawnOptions options;
      options.argv = {BuildDir() + "/duplex", "coordinator", "-c", config_path_, "--host", host};
      options.group = ChildGroup::kOwn;
      options.stdin_null = true;
      options.stdout_to = ChildOutput::kLogFile;
      options.stderr_to = ChildOutput::kLogFile;
      options.log_path = dir_ + "/coordinator-" + host + ".log";
      options.die_with_parent = true;
      options.close_other_fds = true;
      StatusOr<pid_t> pid = Spawn(options);
      ASSERT_TRUE(pid.ok()) << pid.status().ToString();
      pids_.push_back(*pid);
    }
  }

  Seen Ask(int i, int timeout_ms = kPollTimeoutMs) const {
    const CoordinatorConfig& c = config_.coordinators[i];
    httplib::Client http(c.address, c.admin_port);
    http.set_connection_timeout(std::chrono::milliseconds(timeout_ms));
    http.set_read_timeout(std::chrono::milliseconds(timeout_ms));
    auto res = http.Get("/status");
    Seen seen;
    if (!res || res->status != 200) return seen;
    auto status = nlohmann::json::parse(res->body, nullptr, /*allow_exceptions=*/false);
    if (!status.is_object() || !status.contains("coordinator")) return seen;
    seen.answered = true;
    seen.role = status["coordinator"].value("role", "");
    seen.term = status["coordinator"].value("term", uint64_t{0});
    seen.leader = status.value("leader", nlohmann::json::object()).value("host", "");
    return seen;
  }

  // One coordinator's answer to GET path: HTTP status (0: none) and body.
  std::pair<int, std::string> Get(int i, const std::string& path) const {
    const CoordinatorConfig& c = config_.coordinators[i];
    httplib::Client http(c.address, c.admin_port);
    http.set_connection_timeout(std::chrono::milliseconds(kPollTimeoutMs));
    http.set_read_timeout(std::chrono::milliseconds(1000));
    auto res = http.Get(path.c_str());
    return res ? std::make_pair(res->status, res->body) : std::make_pair(0, std::string());
  }

  // What `duplex status -c <config>` prints.
  std::string DuplexStatus() const {
    SpawnOptions options;
    options.argv = {BuildDir() + "/duplex", "status", "-c", config_path_};
    options.stdin_null = true;
    options.stdout_to = ChildOutput::kCapture;
    options.stderr_to = ChildOutput::kCapture;
    StatusOr<RunResult> run = RunProgram(options, 10000);
    EXPECT_TRUE(run.ok()) << run.status().ToString();
    if (!run.ok()) return "";
    EXPECT_TRUE(run->exit.success()) << run->exit.Describe() << ": " << run->output;
    std::cout << run->output;
    return run->output;
  }

  // Asks every coordinator not frozen (a stopped process cannot answer) and checks that no
  // two claim to lead in one term, now or ever (a term is one etcd revision: one winner).
  std::vector<Seen> Poll() {
    std::vector<Seen> all(kCoordinators);
    for (int i = 0; i < kCoordinators; ++i) {
      if (i != frozen_ && pids_[i] > 0) all[i] = Ask(i);
    }
    ++polls_;
    for (int i = 0; i < kCoordinators; ++i) {
      if (all[i].role != "leader") continue;
      auto [it, first] = term_leaders_.emplace(all[i].term, i);
      EXPECT_EQ(it->second, i) << "h" << it->second + 1 << " and h" << i + 1
                               << " both claimed to lead in term " << all[i].term;
      EXPECT_GT(all[i].term, 0u) << "h" << i + 1 << " leads in term 0";
    }
    return all;
  }

  // Polls until `done` holds (how long it took, in ms) or timeout_ms passes (-1).
  int64_t PollUntil(int timeout_ms, const std::function<bool(const std::vector<Seen>&)>& done) {
    const int64_t start_us = NowUs();
    while (NowUs() - start_us <= int64_t{timeout_ms} * 1000) {
      if (done(Poll())) return (NowUs() - start_us) / 1000;
      if (HasFailure()) return -1;
      SleepMs(5);
    }
    return -1;
  }

  // The one coordinator that says it leads with the others following it, or -1.
  static int SoleLeader(const std::vector<Seen>& all) {
    int leader = -1;
    for (int i = 0; i < kCoordinators; ++i) {
      if (all[i].role == "leader") {
        if (leader >= 0) return -1;
        leader = i;
      }
    }
    return leader;
  }

  std::unique_ptr<lab::EtcdCluster> etcd_;
  std::string dir_;
  std::string config_path_;
  ClusterConfig config_;
  std::vector<pid_t> pids_;
  int frozen_ = -1;
  uint64_t polls_ = 0;
  std::map<uint64_t, int> term_leaders_;  // every term seen led, and by whom
};

TEST_F(Coordinators, OneLeadsAKilledLeaderIsReplacedAndAThawedOneFollows) {
  ASSERT_NO_FATAL_FAILURE(StartAll());
  int first = -1;
  ASSERT_GE(PollUntil(kFirstLeaderMs,
                      [&](const std::vector<Seen>& all) {
                        first = SoleLeader(all);
                        if (first < 0) return false;
                        for (const Seen& s : all) {
                          if (s.role != "leader" && (s.role != "follower" ||
                                                     s.leader != "h" + std::to_string(first + 1))) {
                            return false;
                          }
                        }
                        return true;
                      }),
            0)
      << "no single leader that the other two follow within " << kFirstLeaderMs << " ms; logs in "
      << dir_;
  const uint64_t first_term = term_leaders_.rbegin()->first;

  // The admin client finds the leader through the config alone; a deciding call asked of a
  // follower directly is refused, through the config it reaches the leader.
  StatusOr<nlohmann::json> status = GetStatus(config_, 1000);
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ((*status)["coordinator"]["host"], "h" + std::to_string(first + 1));
  EXPECT_EQ((*status)["coordinator"]["role"], "leader");
  const int follower = (first + 1) % kCoordinators;
  EXPECT_EQ(Get(follower, "/upgrade").first, 503);
  StatusOr<nlohmann::json> campaign = GetJson(config_, "/upgrade", 2000);
  EXPECT_TRUE(campaign.ok()) << campaign.status().ToString();
  EXPECT_NE(Get(first, "/metrics").second.find("\nduplex_coordinator_leader 1\n"),
            std::string::npos);
  EXPECT_NE(Get(follower, "/metrics").second.find("\nduplex_coordinator_leader 0\n"),
            std::string::npos);
  const std::string shown = DuplexStatus();
  EXPECT_NE(shown.find("coordinators  leader h" + std::to_string(first + 1) + " term " +
                       std::to_string(first_term) + "  etcd reachable"),
            std::string::npos)
      << shown;

  // SIGKILL the leader: another takes its key once the lease expires.
  ASSERT_EQ(::kill(pids_[first], SIGKILL), 0);
  ASSERT_TRUE(WaitExited(pids_[first], 1000).has_value());
  pids_[first] = 0;
  int second = -1;
  const int64_t failover_ms = PollUntil(kFailoverMs, [&](const std::vector<Seen>& all) {
    second = SoleLeader(all);
    return second >= 0 && all[second].term > first_term;
  });
  std::cout << "leader h" << first + 1 << " SIGKILLed: h" << second + 1 << " leads after "
            << failover_ms << " ms\n";
  ASSERT_GE(failover_ms, 0) << "no new leader within " << kFailoverMs << " ms; logs in " << dir_;
  const uint64_t second_term = term_leaders_.rbegin()->first;
  StatusOr<nlohmann::json> again = GetStatus(config_, 1000);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ((*again)["coordinator"]["host"], "h" + std::to_string(second + 1));
  const std::string after_kill = DuplexStatus();
  EXPECT_NE(after_kill.find("h" + std::to_string(first + 1) + "           " +
                            config_.coordinators[first].address + ":" +
                            std::to_string(config_.coordinators[first].admin_port)),
            std::string::npos)
      << after_kill;
  EXPECT_NE(after_kill.find("not answering"), std::string::npos) << after_kill;

  // Freeze the new leader past its lease: the third takes over meanwhile.
  ASSERT_EQ(::kill(pids_[second], SIGSTOP), 0);
  frozen_ = second;
  const int64_t frozen_us = NowUs();
  int third = -1;
  const int64_t takeover_ms = PollUntil(kFreezeMs, [&](const std::vector<Seen>& all) {
    third = SoleLeader(all);
    return third >= 0 && third != second && all[third].term > second_term;
  });
  std::cout << "leader h" << second + 1 << " frozen: h" << third + 1 << " leads after "
            << takeover_ms << " ms\n";
  EXPECT_GE(takeover_ms, 0) << "nobody took over from the frozen leader; logs in " << dir_;
  while (NowUs() - frozen_us < int64_t{kFreezeMs} * 1000) {
    (void)Poll();
    SleepMs(5);
  }

  // Thawed, it must say at once that it follows, and never again that it leads in its term.
  ASSERT_EQ(::kill(pids_[second], SIGCONT), 0);
  frozen_ = -1;
  const int64_t thawed_us = NowUs();
  Seen thawed;
  do {
    thawed = Ask(second, kThawAnswerMs);
  } while (!thawed.answered && NowUs() - thawed_us < int64_t{kThawAnswerMs} * 1000);
  std::cout << "h" << second + 1 << " thawed after " << kFreezeMs << " ms: first answer after "
            << (NowUs() - thawed_us) / 1000 << " ms says " << thawed.role << " (term "
            << thawed.term << ", leader " << thawed.leader << ")\n";
  EXPECT_EQ(thawed.role, "follower") << "logs in " << dir_;
  const int64_t settled_ms = PollUntil(kFailoverMs, [&](const std::vector<Seen>& all) {
    return all[second].role == "follower" && SoleLeader(all) == third;
  });
  EXPECT_GE(settled_ms, 0) << "h" << third + 1 << " does not lead alone after the thaw";
  // A while more of polls: the thawed one stays a follower.
  EXPECT_EQ(
      PollUntil(500, [&](const std::vector<Seen>& all) { return all[second].role == "leader"; }),
      -1);
  std::cout << polls_ << " polls, terms led: " << term_leaders_.size() << "\n";
}

}  // namespace
}  // namespace duplex
