// End to end: rolling upgrades of a real pair under client load — completed, rolled
// back for each broken release, aborted, and resumed after the coordinator is killed.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "chaos/checker.h"
#include "chaos/workload.h"
#include "replica/client.h"
#include "tests/test_support.h"
#include "upgrade_coordinator/admin_client.h"
#include "upgrade_coordinator/event_log.h"

namespace duplex {
namespace {

using testing::ScratchDir;

std::string BuildDir() {
  const char* env = std::getenv("DUPLEX_BUILD_DIR");
  return env != nullptr ? env : "build";
}

std::string PackageDir(const std::string& name) {
  return std::filesystem::absolute(std::filesystem::path(BuildDir()) / "packages" / name);
}

class Upgrade : public ::testing::Test {
 protected:
  // The replicas' binary; a derived fixture starts from another one.
  virtual std::string Processor() const { return ""; }

  void SetUp() override {
    FixtureOptions options;
    options.dir = ScratchDir();
    options.processor = Processor();
    auto started = ClusterFixture::Start(options);
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    cluster_ = std::move(started).value();
    WorkloadOptions w;
    w.endpoints = cluster_->Endpoints();
    w.clients = 3;
    workload_ = std::make_unique<Workload>(w);
    workload_->Start();
    DUPLEX_ASSERT_OK(workload_->WaitAcked(100, 10000));
  }

  void TearDown() override {
    if (workload_) workload_->Stop();
  }

  StatusOr<nlohmann::json> StartCampaign(const std::string& package, int64_t soak_ms,
                                         bool auto_finalize, bool force = false) {
    auto added = PostJson(cluster_->config(), "/packages", {{"path", PackageDir(package)}}, 300000);
    if (!added.ok()) return added.status();
    return PostJson(
        cluster_->config(), "/upgrade/start",
        {{"to", "2.0.0"}, {"soak_ms", soak_ms}, {"auto_finalize", auto_finalize}, {"force", force}},
        10000);
  }

  // Waits (bounded) until the campaign is in `state`; returns the campaign. A campaign that
  // ended otherwise (completed or rolled back) fails at once instead of at the deadline.
  nlohmann::json WaitCampaign(const std::string& state, int timeout_ms = 120000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    nlohmann::json last;
    while (std::chrono::steady_clock::now() < deadline) {
      auto shown = GetJson(cluster_->config(), "/upgrade");
      if (shown.ok()) {
        last = (*shown)["campaign"];
        std::string now = last.is_object() ? last.value("state", "") : "";
        if (now == state) return last;
        if (now == "completed" || now == "rolled back") break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "campaign not " << state << " (within " << timeout_ms
                  << " ms): " << last.dump();
    return last;
  }

  bool InStep(const std::string& step) {
    auto shown = GetJson(cluster_->config(), "/upgrade");
    if (!shown.ok() || !(*shown)["campaign"].is_object()) return false;
    const auto& steps = (*shown)["campaign"]["steps"];
    return !steps.empty() && steps.back().value("step", "") == step &&
           steps.back().value("result", "") == "running";
  }

  void WaitStep(const std::string& step, int timeout_ms = 30000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!InStep(step) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_TRUE(InStep(step)) << "never reached " << step;
  }

  void ExpectBothRun(const std::string& version) {
    DUPLEX_ASSERT_OK(cluster_->WaitReady(20000));
    auto st = cluster_->Status();
    ASSERT_TRUE(st.ok());
    for (const auto& r : (*st)["replicas"])
      EXPECT_EQ(r.value("version", ""), version) << st->dump();
  }

  void ExpectNothingLost() {
    DUPLEX_ASSERT_OK(workload_->WaitAcked(workload_->acked() + 100, 10000));
    workload_->Stop();
    CheckResult check = workload_->Check();
    EXPECT_EQ(check.lost, 0u) << ::testing::PrintToString(check.problems);
    EXPECT_EQ(check.double_applied, 0u) << ::testing::PrintToString(check.problems);
    DUPLEX_ASSERT_OK(cluster_->WaitConverged(10000));
    EXPECT_TRUE(cluster_->LogFindings().empty())
        << ::testing::PrintToString(cluster_->LogFindings());
    ExpectCleanEventLog();
  }

  // From the coordinator's event log: no feature was enabled while a replica ran the old
  // version, at most one active per epoch, epochs only grew.
  void ExpectCleanEventLog() {
    auto events = ReadEventLog(cluster_->config().data_dir + "/events.jsonl");
    ASSERT_TRUE(events.ok()) << events.status().ToString();
    auto has = [&](const std::string& kind) {
      return std::any_of(events->begin(), events->end(),
                         [&](const nlohmann::json& e) { return e.value("kind", "") == kind; });
    };
    EXPECT_TRUE(has("replica") && has("cluster")) << events->size() << " events";
    auto gate = CheckFeatureGate(*events);
    EXPECT_TRUE(gate.empty()) << ::testing::PrintToString(gate);
    auto epochs = CheckEpochs(*events);
    EXPECT_TRUE(epochs.empty()) << ::testing::PrintToString(epochs);
  }

  // The campaign's step record named `step`, or null.
  static const nlohmann::json* FindStep(const nlohmann::json& campaign, const std::string& step) {
    for (const auto& s : campaign["steps"]) {
      if (s.value("step", "") == step) return &s;
    }
    return nullptr;
  }

  Response Kv(std::vector<std::string> args) {
    ClientOptions options;
    options.endpoints = cluster_->Endpoints();
    Client client(options);
    std::string op = args.front();
    args.erase(args.begin());
    auto r = client.Call(op, args);
    return r.ok() ? *r : Response{r.status().code(), r.status().message(), ""};
  }

  std::unique_ptr<ClusterFixture> cluster_;
  std::unique_ptr<Workload> workload_;
};

TEST_F(Upgrade, CompletesUnderLoadAndEnablesFeaturesOnlyWhenFinalized) {
  auto started = StartCampaign("kv-2.0.0", 1000, /*auto_finalize=*/false);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  WaitStep("Soak");
  // The management lock: no switchover while the campaign runs.
  EXPECT_FALSE(Post(cluster_->config(), "/switchover", 5000).ok());
  Response early = Kv({"PUTEX", "k", "v", "60000"});
  EXPECT_EQ(early.code, Code::kFeatureDisabled) << early.message;
  EXPECT_EQ(early.message, "feature expiry is disabled until the cluster is upgraded to 2.0.0");
  auto waiting = WaitCampaign("awaiting finalize");
  ASSERT_TRUE(waiting.is_object());
  EXPECT_EQ(Kv({"PUTEX", "k", "v", "60000"}).code, Code::kFeatureDisabled);
  auto finalized =
      PostJson(cluster_->config(), "/upgrade/finalize", nlohmann::json::object(), 5000);
  ASSERT_TRUE(finalized.ok()) << finalized.status().ToString();
  WaitCampaign("completed");
  ExpectBothRun("2.0.0");
  EXPECT_EQ(Kv({"PUTEX", "k", "v", "60000"}).code, Code::kOk);
  Response ttl = Kv({"TTL", "k"});
  ASSERT_EQ(ttl.code, Code::kOk) << ttl.message;
  EXPECT_GT(std::stoll(ttl.value), 50000) << ttl.value;
  EXPECT_LE(std::stoll(ttl.value), 60000) << ttl.value;
  // A key with a short expiry disappears (bounded wait for the clock to pass it).
  ASSERT_EQ(Kv({"PUTEX", "brief", "v", "100"}).code, Code::kOk);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (Kv({"GET", "brief"}).code == Code::kOk && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(Kv({"GET", "brief"}).code, Code::kNotFound);
  // Finalized: there is no way back.
  EXPECT_FALSE(PostJson(cluster_->config(), "/upgrade/abort", {}, 5000).ok());
  ExpectNothingLost();
}

class BrokenRelease : public Upgrade, public ::testing::WithParamInterface<const char*> {};

TEST_P(BrokenRelease, IsRolledBackWithNothingLost) {
  auto started = StartCampaign(GetParam(), 1000, /*auto_finalize=*/true);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  auto done = WaitCampaign("rolled back", 90000);
  EXPECT_FALSE(done.value("reason", "").empty()) << done.dump();
  if (std::string(GetParam()).ends_with("corrupt")) {  // found by the digests, compared under load
    EXPECT_NE(done.value("reason", "").find("state digests differ at seq"), std::string::npos)
        << done.dump();
  }
  ExpectBothRun("1.0.0");
  EXPECT_EQ(Kv({"PUTEX", "k", "v", "60000"}).code, Code::kInvalidArgument);  // 1.0 has no PUTEX
  ExpectNothingLost();
}

// The ASan+UBSan build (GCC defines __SANITIZE_ADDRESS__ for -fsanitize=address) runs the
// first broken release and one coordinator kill: the sanitizers see a roll-back and a resumed
// campaign; every variant runs on the optimized build, where each costs a fifth as much.
#ifdef __SANITIZE_ADDRESS__
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

std::vector<const char*> Variants(std::vector<const char*> all, const char* sanitized) {
  return kSanitized ? std::vector<const char*>{sanitized} : all;
}

INSTANTIATE_TEST_SUITE_P(Upgrade, BrokenRelease,
                         ::testing::ValuesIn(Variants({"kv-2.0.0-crash", "kv-2.0.0-unhealthy",
                                                       "kv-2.0.0-corrupt"},
                                                      "kv-2.0.0-crash")),
                         [](const auto& param_info) {
                           std::string name = param_info.param;
                           return name.substr(name.rfind('-') + 1);
                         });

TEST_F(Upgrade, AbortDuringTheEvaluationRollsBack) {
  auto started = StartCampaign("kv-2.0.0", 60000, /*auto_finalize=*/true);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  WaitStep("Soak");
  auto aborted = PostJson(cluster_->config(), "/upgrade/abort", nlohmann::json::object(), 5000);
  ASSERT_TRUE(aborted.ok()) << aborted.status().ToString();
  auto done = WaitCampaign("rolled back");
  EXPECT_EQ(done.value("reason", ""), "aborted by the operator");
  ExpectBothRun("1.0.0");
  ExpectNothingLost();
}

// Both replicas already run 2.0.0, features off: abort still takes both back to 1.0.0.
TEST_F(Upgrade, AbortWhileAwaitingFinalizeTakesBothReplicasBack) {
  auto started = StartCampaign("kv-2.0.0", 500, /*auto_finalize=*/false);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  WaitCampaign("awaiting finalize");
  auto aborted = PostJson(cluster_->config(), "/upgrade/abort", nlohmann::json::object(), 5000);
  ASSERT_TRUE(aborted.ok()) << aborted.status().ToString();
  WaitCampaign("rolled back", 90000);
  ExpectBothRun("1.0.0");
  ExpectNothingLost();
}

class CoordinatorKilled : public Upgrade, public ::testing::WithParamInterface<const char*> {};

// SIGKILL of the coordinator while the campaign is in a step; the new coordinator
// resumes from the persisted phase and the campaign completes.
TEST_P(CoordinatorKilled, InTheStepTheCampaignResumesAndCompletes) {
  const std::string step = GetParam();
  bool manual_finalize = step == "AwaitFinalize";
  auto started = StartCampaign("kv-2.0.0", 1000, /*auto_finalize=*/!manual_finalize);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  WaitStep(step);
  DUPLEX_ASSERT_OK(cluster_->KillAndRestartCoordinator());
  if (manual_finalize) {
    WaitCampaign("awaiting finalize", 90000);
    auto finalized =
        PostJson(cluster_->config(), "/upgrade/finalize", nlohmann::json::object(), 5000);
    ASSERT_TRUE(finalized.ok()) << finalized.status().ToString();
  }
  WaitCampaign("completed", 90000);
  ExpectBothRun("2.0.0");
  ExpectNothingLost();
}

INSTANTIATE_TEST_SUITE_P(Upgrade, CoordinatorKilled,
                         ::testing::ValuesIn(Variants(
                             {"ReloadFirst", "Soak", "ReloadSecond", "AwaitFinalize"}, "Soak")));

// The running replicas' application vetoes the upgrade.
class Vetoed : public Upgrade {
  std::string Processor() const override { return "examples/kv/kv-1.0.0-veto"; }
};

TEST_F(Vetoed, TheVetoBlocksTheCampaignUntilForcedAndTheOverrideIsRecorded) {
  auto plan = GetJson(cluster_->config(), "/upgrade/plan?to=2.0.0");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  bool shown = false;
  for (const auto& check : (*plan)["checks"]) {
    if (check.value("check", "") != "VetoRound") continue;
    shown = !check.value("ok", true) &&
            check.value("reason", "").find("long transaction open") != std::string::npos;
  }
  EXPECT_TRUE(shown) << "the plan does not show the veto: " << plan->dump();
  auto started = StartCampaign("kv-2.0.0", 500, /*auto_finalize=*/true);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  auto refused = WaitCampaign("rolled back");
  EXPECT_NE(refused.value("reason", "").find("long transaction open (simulated)"),
            std::string::npos)
      << refused.dump();
  EXPECT_EQ(FindStep(refused, "TakeLock"), nullptr) << "went past the veto: " << refused.dump();
  ExpectBothRun("1.0.0");

  auto forced = StartCampaign("kv-2.0.0", 500, /*auto_finalize=*/true, /*force=*/true);
  ASSERT_TRUE(forced.ok()) << forced.status().ToString();
  auto done = WaitCampaign("completed", 90000);
  EXPECT_TRUE(done.value("forced", false)) << done.dump();
  const nlohmann::json* veto = FindStep(done, "VetoRound");
  ASSERT_NE(veto, nullptr) << done.dump();
  EXPECT_EQ(veto->value("result", ""), "ok");
  EXPECT_NE(veto->value("reason", "").find("forced over: "), std::string::npos) << veto->dump();
  ExpectNothingLost();
}

TEST_F(Upgrade, ATamperedPackageIsRejectedWithAClearError) {
  namespace fs = std::filesystem;
  fs::path copy = fs::path(ScratchDir()) / "tampered";
  fs::copy(PackageDir("kv-2.0.0"), copy, fs::copy_options::recursive);
  {
    std::fstream binary(copy / "kv-2.0.0", std::ios::in | std::ios::out | std::ios::binary);
    binary.seekp(1000);
    binary.put('\x42');
  }
  auto added = PostJson(cluster_->config(), "/packages", {{"path", copy.string()}}, 300000);
  ASSERT_FALSE(added.ok());
  EXPECT_NE(added.status().message().find("checksum mismatch"), std::string::npos)
      << added.status().message();
  auto plan = GetJson(cluster_->config(), "/upgrade/plan?to=2.0.0");
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE((*plan)["ok"].get<bool>()) << plan->dump();
  ExpectNothingLost();
}

}  // namespace
}  // namespace duplex
