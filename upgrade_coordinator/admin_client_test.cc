#include "upgrade_coordinator/admin_client.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "upgrade_coordinator/etcd/etcd_test_ports.h"

namespace duplex {
namespace {

nlohmann::json Pair(const std::string& standby_state, bool in_sync, uint64_t active_seq,
                    uint64_t standby_seq) {
  return {{"active", "a"},
          {"replicas",
           {{{"name", "a"}, {"state", "Active/Replicating"}, {"applied_seq", active_seq}},
            {{"name", "b"},
             {"state", standby_state},
             {"in_sync", in_sync},
             {"applied_seq", standby_seq}}}}};
}

TEST(PairReady, WhenTheStandbyIsInSyncAtOrPastTheActivesReport) {
  EXPECT_TRUE(PairReady(Pair("Standby/InSync", true, 100, 100)));
  // Under load the standby's report can be the newer one (CI waited 15 s on equality).
  EXPECT_TRUE(PairReady(Pair("Standby/InSync", true, 36668, 36704)));
}

TEST(PairReady, NotWhileTheStandbyIsBehindOrCatchingUpOrRecordedOutOfSync) {
  EXPECT_FALSE(PairReady(Pair("Standby/InSync", true, 100, 99)));
  EXPECT_FALSE(PairReady(Pair("Standby/CatchingUp", true, 100, 100)));
  EXPECT_FALSE(PairReady(Pair("Standby/InSync", false, 100, 100)));
  nlohmann::json no_active = Pair("Standby/InSync", true, 100, 100);
  no_active["active"] = "";
  EXPECT_FALSE(PairReady(no_active));
}

// A coordinator's admin API as the client sees it, on 127.0.0.1: its /status says what it is;
// a leader answers every call, a follower refuses with 503 naming the leader it knows. Each
// request is recorded (in `log`, shared by the three) as "<host> <method> <path>".
class FakeCoordinator {
 public:
  FakeCoordinator(std::string host, int port, std::vector<std::string>* log, std::mutex* mu)
      : host_(std::move(host)), port_(port), log_(log), mu_(mu) {
    server_.Get("/status", [this](const httplib::Request& req, httplib::Response& res) {
      Record(req);
      std::lock_guard lock(*mu_);
      res.set_content(status_.dump(), "application/json");
    });
    auto call = [this](const httplib::Request& req, httplib::Response& res) {
      Record(req);
      std::lock_guard lock(*mu_);
      const bool leads = status_["coordinator"]["role"] == "leader" && !refuse_calls_;
      res.status = leads ? 200 : 503;
      nlohmann::json body =
          leads
              ? nlohmann::json{{"answered_by", host_}}
              : nlohmann::json{{"error", "coordinator " + host_ + " does not lead (the leader is " +
                                             status_["leader"]["host"].get<std::string>() + ")"},
                               {"leader", status_["leader"]}};
      res.set_content(body.dump(), "application/json");
    };
    server_.Post("/switchover", call);
    server_.Post("/shutdown", call);
    server_.Post("/upgrade/start", call);
    server_.Get("/upgrade", call);
    Set("follower", "", "", 0);
    bound_ = server_.bind_to_port("127.0.0.1", port_);
    if (bound_) thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FakeCoordinator() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  // Its role, and the leader it knows (host "" when none).
  void Set(const std::string& role, const std::string& leader_host, const std::string& leader_admin,
           uint64_t term) {
    std::lock_guard lock(*mu_);
    status_ = {{"cluster", "fake"},
               {"replicas", nlohmann::json::array()},
               {"coordinator", {{"host", host_}, {"role", role}, {"term", term}}},
               {"leader", {{"host", leader_host}, {"admin", leader_admin}, {"term", term}}}};
  }
  // Says it leads in /status but refuses every call (it lost the lead since).
  void RefuseCalls() {
    std::lock_guard lock(*mu_);
    refuse_calls_ = true;
  }
  bool bound() const { return bound_; }
  std::string admin() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  void Record(const httplib::Request& req) {
    std::lock_guard lock(*mu_);
    log_->push_back(host_ + " " + req.method + " " + req.path);
  }

  std::string host_;
  int port_;
  std::vector<std::string>* log_;
  std::mutex* mu_;
  nlohmann::json status_;
  bool refuse_calls_ = false;
  bool bound_ = false;
  httplib::Server server_;
  std::thread thread_;
};

class SeveralCoordinators : public ::testing::Test {
 protected:
  void SetUp() override {
    const int first = etcd_test::FreePortRun(3);
    ASSERT_NE(first, 0) << "no free ports in 31000-31999";
    for (int i = 0; i < 3; ++i) {
      const std::string host = "h" + std::to_string(i + 1);
      config_.coordinators.push_back({host, "127.0.0.1", first + i, 0});
      if (i == 1) continue;  // h2 is down unless a test starts it
      fakes_[i] = std::make_unique<FakeCoordinator>(host, first + i, &log_, &mu_);
      ASSERT_TRUE(fakes_[i]->bound()) << "cannot bind 127.0.0.1:" << first + i;
    }
    config_.host = "127.0.0.1";
    config_.admin_port = first;
  }

  std::string Admin(int i) const {
    return "127.0.0.1:" + std::to_string(config_.coordinators[i].admin_port);
  }
  std::vector<std::string> Log() {
    std::lock_guard lock(mu_);
    return log_;
  }
  size_t Count(const std::string& line) {
    std::vector<std::string> log = Log();
    return static_cast<size_t>(std::count(log.begin(), log.end(), line));
  }

  ClusterConfig config_;
  std::mutex mu_;
  std::vector<std::string> log_;
  std::unique_ptr<FakeCoordinator> fakes_[3];
};

TEST_F(SeveralCoordinators, EveryCallGoesToTheLeaderAFollowerNames) {
  fakes_[0]->Set("follower", "h3", Admin(2), 7);
  fakes_[2]->Set("leader", "h3", Admin(2), 7);
  StatusOr<nlohmann::json> status = GetStatus(config_, 1000);
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ((*status)["coordinator"]["host"], "h3");
  // h1's hint sent the client to h3 at once; h2 (down) was never tried.
  EXPECT_EQ(Log(), (std::vector<std::string>{"h1 GET /status", "h3 GET /status"}));

  StatusOr<nlohmann::json> started = PostJson(config_, "/upgrade/start", {{"to", "2"}}, 1000);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  EXPECT_EQ((*started)["answered_by"], "h3");
  StatusOr<nlohmann::json> shown = GetJson(config_, "/upgrade", 1000);
  ASSERT_TRUE(shown.ok()) << shown.status().ToString();
  EXPECT_EQ((*shown)["answered_by"], "h3");
  StatusOr<std::string> switched = Post(config_, "/switchover", 1000);
  ASSERT_TRUE(switched.ok()) << switched.status().ToString();
  EXPECT_EQ(Count("h1 POST /switchover") + Count("h3 POST /switchover"), 1u);
  EXPECT_EQ(Count("h3 POST /switchover"), 1u);
}

TEST_F(SeveralCoordinators, ACallRefusedAsNotLeadingIsRetriedOnceAtTheLeaderNamed) {
  // h1 still says it leads, but lost the lead to h3 since.
  fakes_[0]->Set("leader", "h3", Admin(2), 8);
  fakes_[0]->RefuseCalls();
  fakes_[2]->Set("leader", "h3", Admin(2), 8);
  StatusOr<nlohmann::json> shown = GetJson(config_, "/upgrade", 1000);
  ASSERT_TRUE(shown.ok()) << shown.status().ToString();
  EXPECT_EQ((*shown)["answered_by"], "h3");
  EXPECT_EQ(Count("h1 GET /upgrade"), 1u);
  EXPECT_EQ(Count("h3 GET /upgrade"), 1u);

  // Refused again there: once only, then the refusal is the answer (Unavailable).
  fakes_[2]->Set("follower", "h1", Admin(0), 9);
  StatusOr<std::string> switched = Post(config_, "/switchover", 1000);
  ASSERT_FALSE(switched.ok());
  EXPECT_EQ(switched.status().code(), Code::kUnavailable);
  EXPECT_NE(switched.status().message().find("does not lead"), std::string::npos)
      << switched.status().ToString();
  EXPECT_EQ(Count("h1 POST /switchover"), 1u);
  EXPECT_EQ(Count("h3 POST /switchover"), 1u);
}

TEST_F(SeveralCoordinators, WithoutALeaderStatusShowsAFollowerAndCallsNameEveryCoordinator) {
  fakes_[0]->Set("follower", "", "", 0);
  fakes_[2]->Set("follower", "", "", 0);
  StatusOr<nlohmann::json> status = GetStatus(config_, 1000);
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ((*status)["coordinator"]["host"], "h1");
  EXPECT_EQ((*status)["leader"]["host"], "");

  StatusOr<nlohmann::json> started = PostJson(config_, "/upgrade/start", {{"to", "2"}}, 1000);
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.status().code(), Code::kUnavailable);
  const std::string& why = started.status().message();
  EXPECT_NE(why.find("no coordinator leads: h1 at " + Admin(0) + " follows (no leader known)"),
            std::string::npos)
      << why;
  EXPECT_NE(why.find("h2 at " + Admin(1) + " does not answer"), std::string::npos) << why;
  EXPECT_NE(why.find("h3 at " + Admin(2) + " follows (no leader known)"), std::string::npos) << why;
  EXPECT_EQ(Count("h1 POST /upgrade/start") + Count("h3 POST /upgrade/start"), 0u);

  // Nobody answers at all: Unavailable, naming them.
  fakes_[0].reset();
  fakes_[2].reset();
  StatusOr<nlohmann::json> none = GetStatus(config_, 1000);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), Code::kUnavailable);
  EXPECT_NE(none.status().message().find("h3 at " + Admin(2) + " does not answer"),
            std::string::npos)
      << none.status().ToString();
}

TEST_F(SeveralCoordinators, StatusShowsEachCoordinatorsRoleAndOneThatDoesNotAnswer) {
  fakes_[0]->Set("follower", "h3", Admin(2), 7);
  fakes_[2]->Set("leader", "h3", Admin(2), 7);
  StatusOr<nlohmann::json> status = GetStatusWithRoles(config_, 1000);
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  const nlohmann::json& all = (*status)["coordinators"];
  ASSERT_EQ(all.size(), 3u) << status->dump();
  EXPECT_EQ(all[0]["role"], "follower");
  EXPECT_EQ(all[0]["admin"], Admin(0));
  EXPECT_EQ(all[1]["role"], "not answering");
  EXPECT_TRUE(all[1].contains("error"));
  EXPECT_EQ(all[2]["role"], "leader");
  EXPECT_EQ(all[2]["term"], 7);
  (*status)["etcd"] = {{"reachable", true}, {"error", ""}, {"silent_ms", 3}};
  const std::string table = FormatStatusTable(*status);
  EXPECT_NE(table.find("coordinators  leader h3 term 7  etcd reachable  (as h3 sees it)"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("h2           " + Admin(1)), std::string::npos) << table;
  EXPECT_NE(table.find("not answering"), std::string::npos) << table;
}

TEST_F(SeveralCoordinators, DownStopsTheLeaderFirstThenTheFollowers) {
  fakes_[0]->Set("follower", "h3", Admin(2), 7);
  fakes_[2]->Set("leader", "h3", Admin(2), 7);
  ASSERT_TRUE(Down(config_).ok());
  std::vector<std::string> shutdowns;
  for (const std::string& line : Log()) {
    if (line.find("/shutdown") != std::string::npos) shutdowns.push_back(line);
  }
  EXPECT_EQ(shutdowns, (std::vector<std::string>{"h3 POST /shutdown", "h1 POST /shutdown"}));
}

TEST(OneCoordinator, StatusIsAskedOfTheConfigsOwnCoordinatorAsBefore) {
  const int port = etcd_test::FreePortRun(1);
  ASSERT_NE(port, 0);
  std::mutex mu;
  std::vector<std::string> log;
  FakeCoordinator alone("", port, &log, &mu);
  ASSERT_TRUE(alone.bound());
  alone.Set("alone", "", alone.admin(), 0);
  ClusterConfig config;
  config.host = "127.0.0.1";
  config.admin_port = port;
  config.coordinators = {{"", "127.0.0.1", port, 0}};
  StatusOr<nlohmann::json> status = GetStatus(config, 1000);
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ((*status)["coordinator"]["role"], "alone");
  // No coordinators section for one.
  EXPECT_EQ(FormatStatusTable(*status).find("COORDINATOR"), std::string::npos);
}

}  // namespace
}  // namespace duplex
