// Tests of the campaign machine (campaign.h) without I/O: FakeHost models the pair "a"
// (active at the start) and "b" with plain fields, records every command the campaign
// issues, and Simulate() makes that world follow the commands as the cluster would.
// Time is a fake clock the harness advances by one tick (10 ms) at a time.
#include "upgrade_coordinator/campaign/campaign.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <functional>
#include <map>
#include <set>
#include <stdexcept>

namespace duplex {
namespace {

constexpr const char* kOld = "1.0.0";
constexpr const char* kNew = "2.0.0";
constexpr int64_t kTickMs = 10;
constexpr int64_t kRunMaxMs = 120000;  // every bounded loop gives up after this much fake time

// One command the campaign issued, with what was durable when it issued it.
struct Command {
  std::string what;     // "Isolate", "Reload", "Switchover", "SetClusterVersion", "SetLock", ...
  std::string replica;  // empty when the command is about the pair
  std::string arg;      // version, "on"/"off", work kind
  std::string persisted_phase;
  std::string persisted_step;  // the last StepRecord persisted, and its result
  std::string persisted_result;
  bool persisted_finalized = false;
  std::string reported;  // "a=1.0.0 b=2.0.0" ("-" for a replica not reporting)
};

// A write of the campaign that did not become durable (thrown by FakeHost::Persist).
struct PersistFailed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct FakeReplica {
  std::optional<StatusReport> report;  // absent: not running, or not reporting
  bool in_sync = false;
  bool catching_up = false;
  bool can_catch_up = true;  // false holds it out of sync
  std::string assigned = kOld;
  bool isolated = false;
  std::string reload_to;      // a restart under way: the report shows it after the next Simulate
  uint64_t starts = 1;        // processes started by the coordinator
  int crash_loop_ticks = -1;  // >= 0: its release exits at start; ticks since the last start
};

class FakeHost : public CampaignHost {
 public:
  FakeHost() { Place("a", kOld, kOld); }

  // A settled pair: `active` serves, the other is an in-sync standby; nobody isolated.
  void Place(const std::string& active_name, const std::string& version_a,
             const std::string& version_b) {
    active = active_name;
    for (const auto& [name, version] : {std::pair{"a", version_a}, std::pair{"b", version_b}}) {
      FakeReplica& r = replicas[name];
      r = FakeReplica{};
      r.assigned = version;
      r.report = Fresh(name, version);
      r.in_sync = name != active;
    }
    Derive();
  }

  StatusReport Fresh(const std::string& name, const std::string& version) const {
    StatusReport s;
    s.replica = name;
    s.version = version;
    s.schema = version == kNew ? 2 : 1;
    s.role = WireRole::kOutOfService;  // until Derive() gives it its role
    s.healthy = !unhealthy_versions.count(version);
    s.health_detail = s.healthy ? "" : unhealthy_versions.at(version);
    s.cluster_version = cluster_version;
    return s;
  }

  // --- observations
  std::string ActiveName() const override { return active; }
  std::string OtherName(const std::string& replica) const override {
    return replica == "a" ? "b" : "a";
  }
  std::optional<StatusReport> Report(const std::string& replica) const override {
    return replicas.at(replica).report;
  }
  bool InSync(const std::string& replica) const override {
    const FakeReplica& r = replicas.at(replica);
    return r.in_sync && r.report && r.report->role == WireRole::kStandby;
  }
  std::string AssignedVersion(const std::string& replica) const override {
    return replicas.at(replica).assigned;
  }
  uint64_t Starts(const std::string& replica) const override { return replicas.at(replica).starts; }
  std::string CheckPackage(const std::string&) const override { return package_problem; }
  Distribution distribution{true, "", "h1 done"};
  int distribution_calls = 0;
  std::string CheckCompatibility(const std::string&, const std::string&) const override {
    return compatibility_problem;
  }
  Distribution DistributePackage(const std::string&) override {
    ++distribution_calls;
    return distribution;
  }

  // --- commands
  void Persist(const CampaignRecord& record) override {
    ++persists;
    // As the coordinator's Fatal handler does when its record cannot be written in etcd.
    if (persists == fail_persist_at) throw PersistFailed("persist " + std::to_string(persists));
    persisted = record;
    if (phases.empty() || phases.back() != Name(record.phase)) phases.push_back(Name(record.phase));
  }
  void Isolate(const std::string& replica, bool isolated) override {
    Log("Isolate", replica, isolated ? "on" : "off");
    replicas.at(replica).isolated = isolated;
  }
  void Reload(const std::string& replica, const std::string& version) override {
    Log("Reload", replica, version);
    FakeReplica& r = replicas.at(replica);
    r.assigned = version;
    if (!r.report || r.report->version != version) r.reload_to = version;  // else: runs it
  }
  Status Switchover() override {
    Log("Switchover", "", "");
    if (!switchover_status.ok()) return switchover_status;
    if (switchover_pending) return FailedPrecondition("a switchover is already under way");
    std::string standby = OtherName(active);
    if (!InSync(standby)) return FailedPrecondition("standby " + standby + " is not in sync");
    switchover_pending = true;
    return Status::Ok();
  }
  void SetClusterVersion(const std::string& version) override {
    Log("SetClusterVersion", "", version);
    cluster_version_pending = version;
  }
  void SetLock(bool held) override {
    Log("SetLock", "", held ? "on" : "off");
    lock = held;
  }
  void StartWork(WorkKind kind) override {
    Log("StartWork", "", Name(kind));
    if (answer_at_once) return answer_at_once(kind);
    pending_work.push_back(Name(kind));
  }

  // The world follows the commands by one tick: catch-up started on the previous tick
  // completes, restarts come up, a switchover completes, the cluster version reaches both.
  void Simulate() {
    for (auto& [name, r] : replicas) {
      if (r.catching_up && r.can_catch_up && r.report && r.report->role == WireRole::kStandby) {
        r.in_sync = true;
      }
      if (!r.reload_to.empty()) {
        bool runs = !crashing_versions.count(r.reload_to) && !hanging_versions.count(r.reload_to);
        r.report = runs ? std::optional(Fresh(name, r.reload_to)) : std::nullopt;
        r.in_sync = false;
        r.crash_loop_ticks = crashing_versions.count(r.reload_to) ? 0 : -1;
        r.reload_to.clear();
        ++r.starts;
      } else if (r.crash_loop_ticks >= 0 && ++r.crash_loop_ticks >= crash_restart_ticks) {
        r.crash_loop_ticks = 0;  // the supervisor starts it again, after its backoff
        ++r.starts;
      }
    }
    if (switchover_pending && switchover_completes) {
      switchover_pending = false;
      replicas.at(active).in_sync = false;  // the old active follows the new one
      active = OtherName(active);
    }
    if (!cluster_version_pending.empty() && cluster_version_follows) {
      cluster_version = cluster_version_pending;
      cluster_version_pending.clear();
      for (auto& [name, r] : replicas) {
        if (r.report) r.report->cluster_version = cluster_version;
      }
    }
    Derive();
  }

  // Roles follow the active name and isolation; a new standby starts catching up.
  void Derive() {
    for (auto& [name, r] : replicas) {
      if (!r.report) {
        r.in_sync = r.catching_up = false;
        continue;
      }
      WireRole role = name == active ? WireRole::kActive
                      : r.isolated   ? WireRole::kOutOfService
                                     : WireRole::kStandby;
      if (role != WireRole::kStandby) r.in_sync = false;
      r.catching_up = role == WireRole::kStandby && !r.in_sync;
      r.report->role = role;
      r.report->role_path = role == WireRole::kActive ? "Active"
                            : role == WireRole::kOutOfService
                                ? "OutOfService"
                                : (r.in_sync ? "Standby/InSync" : "Standby/CatchingUp");
    }
  }

  std::string Reported() const {
    std::string out;
    for (const auto& [name, r] : replicas) {
      out += (out.empty() ? "" : " ") + name + "=" + (r.report ? r.report->version : "-");
    }
    return out;
  }

  std::vector<Command> Commands(const std::string& what) const {
    std::vector<Command> out;
    for (const Command& c : commands) {
      if (c.what == what) out.push_back(c);
    }
    return out;
  }
  bool Issued(const std::string& what, const std::string& replica, const std::string& arg) const {
    for (const Command& c : commands) {
      if (c.what == what && c.replica == replica && c.arg == arg) return true;
    }
    return false;
  }

  std::map<std::string, FakeReplica> replicas;
  std::string active;
  std::string cluster_version = kOld;
  std::string package_problem, compatibility_problem;
  std::set<std::string> crashing_versions;                // exit on start (and are started again)
  std::set<std::string> hanging_versions;                 // never report, never exit
  int crash_restart_ticks = 50;                           // the supervisor's backoff
  std::map<std::string, std::string> unhealthy_versions;  // version -> health detail
  Status switchover_status = Status::Ok();
  bool switchover_completes = true;
  bool switchover_pending = false;
  bool cluster_version_follows = true;
  std::string cluster_version_pending;
  bool lock = false;

  int persists = 0;
  int fail_persist_at = 0;  // > 0: that call to Persist throws PersistFailed, durably nothing
  std::optional<CampaignRecord> persisted;
  std::vector<std::string> phases;  // persisted phases, consecutive duplicates folded
  std::vector<Command> commands;
  std::vector<std::string> pending_work;
  // Set: work is answered from inside StartWork, as a host without a worker might.
  std::function<void(WorkKind)> answer_at_once;

 private:
  void Log(const std::string& what, const std::string& replica, const std::string& arg) {
    Command c{what, replica, arg, "", "", "", false, Reported()};
    if (persisted) {
      c.persisted_phase = Name(persisted->phase);
      if (!persisted->steps.empty()) {
        c.persisted_step = Name(persisted->steps.back().step);
        c.persisted_result = Name(persisted->steps.back().result);
      }
      c.persisted_finalized = persisted->finalized;
    }
    commands.push_back(std::move(c));
  }
};

CampaignRecord NewRecord() {
  CampaignRecord r;
  r.id = 7;
  r.from = kOld;
  r.to = kNew;
  r.soak_ms = 200;
  r.auto_finalize = true;
  return r;
}

// The host, a campaign on it, the clock, and the answers to blocking work.
struct Harness {
  explicit Harness(CampaignRecord record) { Start(std::move(record)); }

  void Start(CampaignRecord record) {
    campaign = std::make_unique<Campaign>(std::move(record), &host, options);
  }
  // A coordinator killed and started again: the campaign comes back from its last
  // persisted record (through its JSON form, as from the store); its work died with it.
  void Restart() {
    ASSERT_TRUE(host.persisted.has_value());
    auto saved = CampaignFromJson(CampaignToJson(*host.persisted));
    ASSERT_TRUE(saved.ok()) << saved.status().ToString();
    host.pending_work.clear();
    Start(std::move(saved).value());
  }

  void Step() {
    now_ms += kTickMs;
    campaign->Tick(now_ms);
    host.Simulate();
    for (auto it = host.pending_work.begin(); it != host.pending_work.end();) {
      const Status* answer = AnswerTo(*it);
      if (answer == nullptr) {
        ++it;
        continue;
      }
      campaign->OnWorkDone(*FromName<WorkKind>(*it), *answer);
      it = host.pending_work.erase(it);
    }
  }
  // work_answers["kind@Step"] for work started by that step, else work_answers["kind"].
  const Status* AnswerTo(const std::string& kind) const {
    std::string step;
    for (const Command& c : host.commands) {
      if (c.what == "StartWork" && c.arg == kind) step = c.persisted_step;
    }
    auto it = work_answers.find(kind + "@" + step);
    if (it == work_answers.end()) it = work_answers.find(kind);
    return it == work_answers.end() ? nullptr : &it->second;
  }
  // Ticks until `done` holds, at most ms_max of fake time; says whether it held.
  bool RunUntil(const std::function<bool()>& done, int64_t ms_max = kRunMaxMs) {
    for (int64_t t = 0; t < ms_max; t += kTickMs) {
      if (done()) return true;
      Step();
    }
    return done();
  }
  void RunFor(int64_t ms) {
    for (int64_t t = 0; t < ms; t += kTickMs) Step();
  }
  bool RunToEnd(int64_t ms_max = kRunMaxMs) {
    return RunUntil([&] { return record().Done(); }, ms_max);
  }
  // Until `step` has been begun (it may already have ended).
  bool RunUntilStep(const std::string& step) {
    return RunUntil([&] {
      for (const auto& s : record().steps) {
        if (Name(s.step) == step) return true;
      }
      return false;
    });
  }
  bool RunUntilWorkStarted(const std::string& kind) {
    return RunUntil([&] {
      for (const auto& k : host.pending_work) {
        if (k == kind) return true;
      }
      return false;
    });
  }

  const CampaignRecord& record() const { return campaign->record(); }
  const StepRecord* FindStep(const std::string& step) const {
    for (const auto& s : record().steps) {
      if (Name(s.step) == step) return &s;
    }
    return nullptr;
  }
  std::vector<std::string> StepNames() const {
    std::vector<std::string> out;
    for (const auto& s : record().steps) out.push_back(Name(s.step));
    return out;
  }

  FakeHost host;
  CampaignOptions options{/*step_timeout_ms=*/3000, /*switchover_wait_ms=*/1000};
  std::unique_ptr<Campaign> campaign;
  int64_t now_ms = 1000;
  std::map<std::string, Status> work_answers = {
      {"verify", Status::Ok()}, {"backup", Status::Ok()}, {"digests", Status::Ok()}};
};

std::vector<std::string> PlannedStepNames() {
  std::vector<std::string> out;
  for (const auto& [step, what] : CampaignSteps()) out.push_back(Name(step));
  return out;
}

// The pair as it was before the campaign: a active on the old version, b its standby.
void ExpectRestored(const Harness& h) {
  const FakeHost& host = h.host;
  EXPECT_EQ(h.record().state, CampaignState::kRolledBack);
  EXPECT_EQ(host.active, "a");
  for (const std::string name : {"a", "b"}) {
    const FakeReplica& r = host.replicas.at(name);
    ASSERT_TRUE(r.report.has_value()) << name;
    EXPECT_EQ(r.report->version, kOld) << name;
    EXPECT_EQ(r.assigned, kOld) << name;
    EXPECT_FALSE(r.isolated) << name;
  }
  EXPECT_TRUE(host.InSync("b"));
  EXPECT_EQ(host.cluster_version, kOld);
  EXPECT_FALSE(host.lock);
  EXPECT_EQ(host.persisted->state, CampaignState::kRolledBack);
}

// Both on the new version with its features on, b (upgraded first) active.
void ExpectUpgraded(const Harness& h) {
  const FakeHost& host = h.host;
  EXPECT_EQ(h.record().state, CampaignState::kCompleted) << h.record().reason;
  EXPECT_EQ(host.active, "b");
  for (const std::string name : {"a", "b"}) {
    const FakeReplica& r = host.replicas.at(name);
    ASSERT_TRUE(r.report.has_value()) << name;
    EXPECT_EQ(r.report->version, kNew) << name;
    EXPECT_EQ(r.report->cluster_version, kNew) << name;
    EXPECT_FALSE(r.isolated) << name;
  }
  EXPECT_TRUE(host.InSync("a"));
  EXPECT_FALSE(host.lock);
  EXPECT_TRUE(h.record().finalized);
  EXPECT_EQ(host.persisted->state, CampaignState::kCompleted);
}

class CampaignTest : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_level_ = spdlog::get_level();
    spdlog::set_level(spdlog::level::err);  // each step logs; failures are what matter here
  }
  void TearDown() override { spdlog::set_level(saved_level_); }

 private:
  spdlog::level::level_enum saved_level_ = spdlog::level::info;
};

// --- the happy path ---------------------------------------------------------------------

TEST_F(CampaignTest, HappyPathRunsEveryStepInOrderAndCompletes) {
  CampaignRecord r = NewRecord();
  r.auto_finalize = false;
  Harness h(r);
  ASSERT_TRUE(h.RunUntil([&] { return h.record().state == CampaignState::kAwaitingFinalize; }));
  ASSERT_TRUE(h.campaign->Finalize().ok());
  ASSERT_TRUE(h.RunToEnd());

  EXPECT_EQ(h.StepNames(), PlannedStepNames());
  for (const auto& s : h.record().steps)
    EXPECT_EQ(s.result, StepOutcome::kOk) << s.step << ": " << s.reason;
  EXPECT_EQ(h.FindStep("PreHealthCheck")->reason, "b first, then a");
  EXPECT_EQ(h.record().first, "b");
  EXPECT_EQ(h.record().second, "a");
  EXPECT_EQ(h.record().reason, "");
  ExpectUpgraded(h);
  // Each step is persisted when it begins and when it ends, each phase when it is entered.
  EXPECT_GE(h.host.persists, 2 * static_cast<int>(h.record().steps.size()) + 6);
  EXPECT_EQ(h.host.persisted->steps.size(), h.record().steps.size());

  auto raises = h.host.Commands("SetClusterVersion");
  ASSERT_EQ(raises.size(), 1u);
  EXPECT_EQ(raises[0].arg, kNew);
  EXPECT_EQ(raises[0].reported, "a=2.0.0 b=2.0.0");
  EXPECT_TRUE(raises[0].persisted_finalized);

  auto locks = h.host.Commands("SetLock");
  ASSERT_EQ(locks.size(), 2u);
  EXPECT_EQ(locks[0].arg, "on");
  EXPECT_EQ(locks[0].persisted_step, "TakeLock");
  EXPECT_EQ(locks[1].arg, "off");
  EXPECT_EQ(locks[1].persisted_step, "ReleaseLock");
  // The lock is held around every change to the pair.
  size_t taken = 0, released = 0;
  for (size_t i = 0; i < h.host.commands.size(); ++i) {
    if (h.host.commands[i].what == "SetLock")
      (h.host.commands[i].arg == "on" ? taken : released) = i;
  }
  for (size_t i = 0; i < h.host.commands.size(); ++i) {
    const Command& c = h.host.commands[i];
    if (c.what == "Isolate" || c.what == "Reload" || c.what == "Switchover" ||
        c.what == "SetClusterVersion") {
      EXPECT_TRUE(taken < i && i < released) << c.what << " " << c.replica << " at " << i;
    }
  }
}

TEST_F(CampaignTest, UpgradesTheStandbyFirstAndSwitchesOverOnceToTheNewVersion) {
  Harness h(NewRecord());
  ASSERT_TRUE(h.RunToEnd());
  ExpectUpgraded(h);
  std::vector<std::string> order;
  for (const Command& c : h.host.commands) {
    if (c.what == "Isolate" || c.what == "Reload" || c.what == "Switchover") {
      order.push_back(c.what + (c.replica.empty() ? "" : " " + c.replica) +
                      (c.arg.empty() ? "" : " " + c.arg));
    }
  }
  EXPECT_EQ(order, (std::vector<std::string>{"Isolate b on", "Reload b 2.0.0", "Isolate b off",
                                             "Switchover", "Isolate a on", "Reload a 2.0.0",
                                             "Isolate a off"}));
  // verify, backup, digests at soak and at the end
  EXPECT_EQ(h.host.Commands("StartWork").size(), 4u);
  const StepRecord* soak = h.FindStep("Soak");
  EXPECT_GE(soak->ended_ms - soak->started_ms, h.record().soak_ms);
}

// --- persistence before action -----------------------------------------------------------

const std::map<std::string, std::set<std::string>>& PhaseSteps() {
  static const auto* steps = new std::map<std::string, std::set<std::string>>{
      {"Prepare", {"Verify", "PreValidate", "PreHealthCheck", "VetoRound", "TakeLock", "Backup"}},
      {"UpgradeFirst", {"IsolateFirst", "ReloadFirst", "SyncFirst"}},
      {"Evaluate", {"SwitchToNew", "Soak"}},
      {"UpgradeSecond", {"IsolateSecond", "ReloadSecond", "SyncSecond"}},
      {"Conclude",
       {"PostValidate", "PostHealthCheck", "AwaitFinalize", "Finalize", "ReleaseLock", "Cleanup"}},
      {"RollingBack", {"RestoreActive", "RestoreStandby", "ReleaseLock"}}};
  return *steps;
}

// Each command was issued by a step whose phase and own record were durable first.
void ExpectEveryCommandPersistedFirst(const FakeHost& host) {
  ASSERT_FALSE(host.commands.empty());
  for (const Command& c : host.commands) {
    SCOPED_TRACE(c.what + " " + c.replica + " " + c.arg);
    ASSERT_TRUE(PhaseSteps().count(c.persisted_phase)) << "phase '" << c.persisted_phase << "'";
    EXPECT_TRUE(PhaseSteps().at(c.persisted_phase).count(c.persisted_step))
        << c.persisted_step << " is not a step of " << c.persisted_phase;
    EXPECT_EQ(c.persisted_result, "running") << c.persisted_step;
  }
}

TEST_F(CampaignTest, EveryCommandIsIssuedAfterItsPhaseAndStepArePersisted) {
  Harness h(NewRecord());
  ASSERT_TRUE(h.RunToEnd());
  ExpectEveryCommandPersistedFirst(h.host);
  EXPECT_EQ(h.host.phases, (std::vector<std::string>{"Prepare", "UpgradeFirst", "Evaluate",
                                                     "UpgradeSecond", "Conclude", "Completed"}));
  // Commands belong to the steps that own them.
  const std::map<std::string, std::set<std::string>> owners = {
      {"Isolate", {"IsolateFirst", "SyncFirst", "IsolateSecond", "SyncSecond"}},
      {"Reload", {"ReloadFirst", "ReloadSecond"}},
      {"Switchover", {"SwitchToNew"}},
      {"SetLock", {"TakeLock", "ReleaseLock"}},
      {"SetClusterVersion", {"Finalize"}},
      {"StartWork", {"Verify", "Backup", "Soak", "PostValidate"}}};
  for (const Command& c : h.host.commands) {
    EXPECT_TRUE(owners.at(c.what).count(c.persisted_step)) << c.what << " in " << c.persisted_step;
  }
}

TEST_F(CampaignTest, EveryRollBackCommandIsIssuedAfterRollingBackIsPersisted) {
  Harness h(NewRecord());
  h.work_answers["digests"] = Corruption("state digests differ at seq 42");
  ASSERT_TRUE(h.RunToEnd());
  ExpectRestored(h);
  ExpectEveryCommandPersistedFirst(h.host);
  EXPECT_EQ(h.host.phases, (std::vector<std::string>{"Prepare", "UpgradeFirst", "Evaluate",
                                                     "RollingBack", "RolledBack"}));
}

// --- pre-checks ------------------------------------------------------------------------

// Ended rolled back for `reason`, having changed nothing in the pair.
void ExpectRolledBackUntouched(const Harness& h, const std::string& reason) {
  ExpectRestored(h);
  EXPECT_EQ(h.record().reason, reason);
  EXPECT_FALSE(h.host.Issued("Isolate", "a", "on"));
  EXPECT_FALSE(h.host.Issued("Isolate", "b", "on"));
  EXPECT_TRUE(h.host.Commands("Reload").empty());
  EXPECT_TRUE(h.host.Commands("Switchover").empty());
  EXPECT_TRUE(h.host.Commands("SetClusterVersion").empty());
  EXPECT_FALSE(h.host.Issued("SetLock", "", "on"));
  EXPECT_FALSE(h.record().finalized);
}

TEST_F(CampaignTest, AFailedPackageVerificationRollsBackWithoutTouchingTheReplicas) {
  Harness h(NewRecord());
  h.host.package_problem = "kv-2.0.0: sha256 mismatch";
  ASSERT_TRUE(h.RunToEnd());
  ExpectRolledBackUntouched(h, "Verify: kv-2.0.0: sha256 mismatch");
  EXPECT_EQ(h.FindStep("Verify")->result, StepOutcome::kNok);
  EXPECT_EQ(h.FindStep("PreValidate"), nullptr);
}

TEST_F(CampaignTest, DistributionWaitsForEveryHostBeforeAnythingIsIsolated) {
  Harness h(NewRecord());
  h.host.distribution = {false, "", "h1 done, h2 40%"};
  ASSERT_FALSE(h.RunUntil([&] { return h.host.Issued("Isolate", "b", "on"); }, 2000));
  EXPECT_EQ(h.FindStep("Distribute")->result, StepOutcome::kRunning);
  EXPECT_GT(h.host.distribution_calls, 1);
  h.host.distribution = {true, "", "h1 done, h2 done"};
  ASSERT_TRUE(h.RunToEnd());
  ExpectUpgraded(h);
  EXPECT_EQ(h.FindStep("Distribute")->reason, "h1 done, h2 done");
}

TEST_F(CampaignTest, AHostThatRefusesThePackageRollsBackWithoutTouchingTheReplicas) {
  Harness h(NewRecord());
  h.host.distribution = {false, "host h2: kv-2.0.0: checksum mismatch", "h1 done, h2 0%"};
  ASSERT_TRUE(h.RunToEnd());
  ExpectRolledBackUntouched(h, "Distribute: host h2: kv-2.0.0: checksum mismatch");
}

TEST_F(CampaignTest, AFailedPreValidationRollsBackWithoutTouchingTheReplicas) {
  Harness h(NewRecord());
  h.host.compatibility_problem = "kv 2.0.0 upgrades from [1.1.0, 2.0.0), not from 1.0.0";
  ASSERT_TRUE(h.RunToEnd());
  ExpectRolledBackUntouched(h,
                            "PreValidate: kv 2.0.0 upgrades from [1.1.0, 2.0.0), not from 1.0.0");
}

TEST_F(CampaignTest, AnUnhealthyReplicaFailsThePreHealthCheckOnlyAfterItsWait) {
  Harness h(NewRecord());
  h.host.replicas["b"].report->healthy = false;
  h.host.replicas["b"].report->health_detail = "disk 97% full";
  ASSERT_TRUE(h.RunToEnd());
  ExpectRolledBackUntouched(h, "PreHealthCheck: replica b is unhealthy: disk 97% full");
  const StepRecord* check = h.FindStep("PreHealthCheck");
  EXPECT_GE(check->ended_ms - check->started_ms, 5000);  // transient trouble is tolerated
  EXPECT_LE(check->ended_ms - check->started_ms, 5000 + 2 * kTickMs);
}

TEST_F(CampaignTest, AReplicaThatRecoversWithinThePreHealthCheckWaitDoesNotFailIt) {
  Harness h(NewRecord());
  h.host.replicas["a"].report->healthy = false;
  ASSERT_TRUE(h.RunUntilStep("PreHealthCheck"));
  h.RunFor(2000);
  h.host.replicas["a"].report->healthy = true;
  ASSERT_TRUE(h.RunToEnd());
  ExpectUpgraded(h);
}

TEST_F(CampaignTest, AVetoRollsBackWithoutTouchingTheReplicas) {
  Harness h(NewRecord());
  h.host.replicas["a"].report->veto_reason = "a bulk import is running";
  ASSERT_TRUE(h.RunToEnd());
  ExpectRolledBackUntouched(h, "VetoRound: a vetoes: a bulk import is running (--force overrides)");
}

TEST_F(CampaignTest, ForceOverridesTheVetoAndRecordsIt) {
  CampaignRecord r = NewRecord();
  r.force = true;
  Harness h(r);
  h.host.replicas["a"].report->veto_reason = "a bulk import is running";
  h.host.replicas["b"].report->veto_reason = "not tonight";
  ASSERT_TRUE(h.RunToEnd());
  EXPECT_EQ(h.FindStep("VetoRound")->result, StepOutcome::kOk);
  EXPECT_EQ(h.FindStep("VetoRound")->reason,
            "forced over: b vetoes: not tonight; a vetoes: a bulk import is running");
  EXPECT_TRUE(h.host.persisted->force);
  EXPECT_EQ(h.record().state, CampaignState::kCompleted);
}

// --- failures after the pair has changed ----------------------------------------------

TEST_F(CampaignTest, AnUnhealthyReplicaDuringTheSoakRollsBackToTheOldVersion) {
  Harness h(NewRecord());
  ASSERT_TRUE(h.RunUntilStep("Soak"));
  ASSERT_EQ(h.host.active, "b");
  h.host.replicas["b"].report->healthy = false;
  h.host.replicas["b"].report->health_detail = "error rate 12% over baseline 0.1%";
  ASSERT_TRUE(h.RunToEnd());

  ExpectRestored(h);
  EXPECT_EQ(h.record().reason, "Soak: replica b is unhealthy: error rate 12% over baseline 0.1%");
  EXPECT_EQ(h.FindStep("Soak")->result, StepOutcome::kNok);
  EXPECT_EQ(h.host.Commands("Switchover").size(), 2u);  // to the new version, and back
  EXPECT_EQ(h.host.Commands("Switchover").back().persisted_step, "RestoreActive");
  ASSERT_TRUE(h.host.Issued("Reload", "b", kOld));
  EXPECT_FALSE(h.host.Issued("Reload", "a", kNew));
  EXPECT_EQ(h.host.Commands("SetLock").back().arg, "off");
  EXPECT_TRUE(h.host.Commands("SetClusterVersion").empty());
  std::vector<std::string> rollback;
  bool rolling_back = false;
  for (const auto& s : h.record().steps) {
    rolling_back = rolling_back || s.step == CampaignStep::kRestoreActive;
    if (rolling_back) rollback.push_back(Name(s.step) + " " + Name(s.result));
  }
  EXPECT_EQ(rollback,
            (std::vector<std::string>{"RestoreActive ok", "RestoreStandby ok", "ReleaseLock ok"}));
}

// The old active's counters before the campaign: 10000 answers, 0.1% errors, p99 2 ms.
void SetBaseline(FakeHost& host) {
  StatusReport& a = *host.replicas["a"].report;
  a.requests_total = 10000;
  a.server_errors_total = 10;
  a.latency_p99_us = 2000;
}

// The new active's counters since the soak began (they were 0 then).
void SoakWith(Harness& h, uint64_t requests, uint64_t errors, uint64_t latency_p99_us) {
  StatusReport& b = *h.host.replicas["b"].report;
  b.requests_total = requests;
  b.server_errors_total = errors;
  b.latency_p99_us = latency_p99_us;
}

TEST_F(CampaignTest, AnErrorRateAboveTheBaselineDuringTheSoakRollsBack) {
  Harness h(NewRecord());
  SetBaseline(h.host);
  ASSERT_TRUE(h.RunUntilStep("Soak"));
  EXPECT_EQ(h.record().baseline_requests, 10000u);
  EXPECT_EQ(h.record().baseline_errors, 10u);
  EXPECT_EQ(h.record().baseline_latency_p99_us, 2000u);
  SoakWith(h, 1000, 50, 2000);  // 5% against 0.1%
  ASSERT_TRUE(h.RunToEnd());
  ExpectRestored(h);
  EXPECT_EQ(h.record().reason.rfind("Soak: error rate 5", 0), 0u) << h.record().reason;
  EXPECT_NE(h.record().reason.find("against a baseline of 0.1"), std::string::npos)
      << h.record().reason;
}

TEST_F(CampaignTest, ALatencyRegressionDuringTheSoakRollsBack) {
  Harness h(NewRecord());
  SetBaseline(h.host);
  ASSERT_TRUE(h.RunUntilStep("Soak"));
  SoakWith(h, 1000, 1, 200000);
  ASSERT_TRUE(h.RunToEnd());
  ExpectRestored(h);
  EXPECT_EQ(h.record().reason, "Soak: latency p99 200000 us against a baseline of 2000 us");
}

TEST_F(CampaignTest, TheSoakToleratesNoiseWithinTheThresholds) {
  Harness h(NewRecord());
  SetBaseline(h.host);
  ASSERT_TRUE(h.RunUntilStep("Soak"));
  SoakWith(h, 50, 50, 900000);  // too few answers to judge
  h.RunFor(100);
  SoakWith(h, 1000, 5, 40000);  // 0.5% errors; p99 within the 50 ms slack
  ASSERT_TRUE(h.RunToEnd());
  ExpectUpgraded(h);
}

TEST_F(CampaignTest, ADigestMismatchAtTheSoakRollsBack) {
  Harness h(NewRecord());
  h.work_answers.erase("digests");
  ASSERT_TRUE(h.RunUntilWorkStarted("digests"));
  EXPECT_EQ(h.host.Commands("StartWork").back().persisted_step, "Soak");
  h.campaign->OnWorkDone(WorkKind::kDigests, Corruption("state digests differ at seq 42: x vs y"));
  h.host.pending_work.clear();
  ASSERT_TRUE(h.RunToEnd());
  ExpectRestored(h);
  EXPECT_EQ(h.record().reason, "Soak: state digests differ at seq 42: x vs y");
  EXPECT_TRUE(h.host.Issued("Reload", "b", kOld));
}

TEST_F(CampaignTest, ADigestMismatchAtPostValidationBringsBothReplicasBack) {
  Harness h(NewRecord());
  h.work_answers["digests@PostValidate"] = Corruption("state digests differ at seq 9");
  ASSERT_TRUE(h.RunToEnd());
  ExpectRestored(h);
  EXPECT_EQ(h.record().reason, "PostValidate: state digests differ at seq 9");
  EXPECT_TRUE(h.host.Issued("Reload", "a", kOld));
  EXPECT_TRUE(h.host.Issued("Reload", "b", kOld));
}

TEST_F(CampaignTest, AReleaseThatNeverComesUpRollsBackAfterTheReloadTimeout) {
  Harness h(NewRecord());
  h.host.hanging_versions = {kNew};
  ASSERT_TRUE(h.RunToEnd());
  ExpectRestored(h);
  EXPECT_EQ(h.record().reason, "ReloadFirst: b did not come up with 2.0.0 within 15 s");
  EXPECT_TRUE(h.host.Commands("Switchover").empty());  // a kept serving throughout
}

TEST_F(CampaignTest, AReleaseThatExitsOnStartRollsBack) {
  Harness h(NewRecord());
  h.host.crashing_versions = {kNew};
  ASSERT_TRUE(h.RunToEnd());
  ExpectRestored(h);
  EXPECT_EQ(h.record().reason.rfind("ReloadFirst: b ", 0), 0u) << h.record().reason;
  EXPECT_NE(h.record().reason.find("2.0.0"), std::string::npos) << h.record().reason;
  EXPECT_TRUE(h.host.Commands("Switchover").empty());  // a kept serving throughout
  EXPECT_TRUE(h.host.Issued("Reload", "b", kOld));
}

TEST_F(CampaignTest, AReleaseWhoseHealthChecksFailRollsBackDuringTheSoak) {
  Harness h(NewRecord());
  h.host.unhealthy_versions[kNew] = "self-check failed";
  ASSERT_TRUE(h.RunToEnd());
  ExpectRestored(h);
  EXPECT_EQ(h.record().reason, "Soak: replica b is unhealthy: self-check failed");
}

TEST_F(CampaignTest, ARefusedSwitchoverRollsBack) {
  Harness h(NewRecord());
  h.host.switchover_status = FailedPrecondition("a failover is under way");
  ASSERT_TRUE(h.RunUntilStep("SwitchToNew"));
  ASSERT_TRUE(h.RunUntilStep("RestoreActive"));
  h.host.switchover_status = Status::Ok();
  ASSERT_TRUE(h.RunToEnd());
  ExpectRestored(h);
  EXPECT_EQ(h.record().reason, "SwitchToNew: switchover: a failover is under way");
}

TEST_F(CampaignTest, RollingBackWaitsVisiblyForAnOldReplicaToResync) {
  Harness h(NewRecord());
  ASSERT_TRUE(h.RunUntilStep("Soak"));
  h.host.replicas["a"].can_catch_up = false;
  h.host.replicas["a"].in_sync = false;
  h.host.Derive();
  ASSERT_TRUE(h.campaign->Abort("aborted by the operator").ok());
  ASSERT_FALSE(h.RunToEnd(2 * h.options.step_timeout_ms));
  EXPECT_EQ(h.record().state, CampaignState::kRollingBack);
  EXPECT_EQ(h.host.persisted->steps.back().reason,
            "rolling back: waiting for a (1.0.0) to be in sync");
  h.host.replicas["a"].can_catch_up = true;
  ASSERT_TRUE(h.RunToEnd());
  ExpectRestored(h);
}

// --- abort --------------------------------------------------------------------------------

TEST_F(CampaignTest, AbortBeforeFinalizeRollsBackFromEveryStep) {
  for (const auto& [step, what] : CampaignSteps()) {
    if (step == CampaignStep::kFinalize) break;
    SCOPED_TRACE("abort once " + Name(step) + " has begun");
    CampaignRecord r = NewRecord();
    r.auto_finalize = false;
    Harness h(r);
    ASSERT_TRUE(h.RunUntilStep(Name(step)));
    ASSERT_TRUE(h.campaign->Abort("aborted by the operator").ok());
    EXPECT_EQ(h.host.persisted->phase, CampaignPhase::kRollingBack);
    EXPECT_EQ(h.record().state, CampaignState::kRollingBack);
    EXPECT_EQ(h.campaign->Abort("again").code(), Code::kFailedPrecondition);
    ASSERT_TRUE(h.RunToEnd());
    ExpectRestored(h);
    EXPECT_EQ(h.record().reason, "aborted by the operator");
    EXPECT_FALSE(h.host.Issued("SetClusterVersion", "", kNew));
  }
}

TEST_F(CampaignTest, AbortEndsTheRunningStepAsNok) {
  Harness h(NewRecord());
  ASSERT_TRUE(h.RunUntilStep("Soak"));
  ASSERT_TRUE(h.campaign->Abort("aborted by the operator").ok());
  const StepRecord* soak = h.FindStep("Soak");
  EXPECT_EQ(soak->result, StepOutcome::kNok);
  EXPECT_EQ(soak->reason, "aborted by the operator");
  EXPECT_EQ(soak->ended_ms, h.now_ms);
}

TEST_F(CampaignTest, AbortAfterFinalizeIsRefusedNamingTheVersion) {
  Harness h(NewRecord());
  h.host.cluster_version_follows = false;  // the Finalize step waits for the replicas
  ASSERT_TRUE(h.RunUntil([&] { return h.record().finalized; }));
  Status s = h.campaign->Abort("aborted by the operator");
  EXPECT_EQ(s.code(), Code::kFailedPrecondition);
  EXPECT_EQ(s.message(),
            "the campaign is finalized: the cluster runs 2.0.0 features and cannot fall back to "
            "1.0.0");
  EXPECT_EQ(h.record().state, CampaignState::kRunning);
  h.host.cluster_version_follows = true;
  ASSERT_TRUE(h.RunToEnd());
  ExpectUpgraded(h);
  EXPECT_EQ(h.campaign->Abort("too late").code(), Code::kFailedPrecondition);
}

TEST_F(CampaignTest, AbortOfAFinishedCampaignIsRefused) {
  Harness h(NewRecord());
  h.host.package_problem = "no stored package has version 2.0.0";
  ASSERT_TRUE(h.RunToEnd());
  Status s = h.campaign->Abort("late");
  EXPECT_EQ(s.code(), Code::kFailedPrecondition);
  EXPECT_EQ(s.message(), "the campaign is already rolled back");
}

// --- finalize ----------------------------------------------------------------------------

bool Contains(const std::vector<std::string>& all, const std::string& one) {
  for (const auto& s : all) {
    if (s == one) return true;
  }
  return false;
}

TEST_F(CampaignTest, FinalizeBeforeThePredicatesHoldIsRefusedNamingWhatIsMissing) {
  CampaignRecord r = NewRecord();
  r.auto_finalize = false;
  Harness h(r);

  ASSERT_TRUE(h.RunUntilStep("IsolateFirst"));
  auto waits = h.campaign->FinalizeWaitsFor();
  EXPECT_TRUE(Contains(waits, "replica b runs 1.0.0, not 2.0.0")) << testing::PrintToString(waits);
  EXPECT_TRUE(Contains(waits, "replica a runs 1.0.0, not 2.0.0")) << testing::PrintToString(waits);

  ASSERT_TRUE(h.RunUntilStep("Soak"));
  waits = h.campaign->FinalizeWaitsFor();
  EXPECT_EQ(waits, (std::vector<std::string>{"replica a runs 1.0.0, not 2.0.0",
                                             "the soak and post-validation to finish"}));
  Status s = h.campaign->Finalize();
  EXPECT_EQ(s.code(), Code::kFailedPrecondition);
  EXPECT_EQ(s.message(),
            "finalize waits for: replica a runs 1.0.0, not 2.0.0; the soak and post-validation "
            "to finish");
  EXPECT_FALSE(h.record().finalize_requested);

  ASSERT_TRUE(h.RunUntilStep("SyncSecond"));  // a runs 2.0.0 and still catches up
  EXPECT_TRUE(Contains(h.campaign->FinalizeWaitsFor(), "replica a to be in sync"));

  ASSERT_TRUE(h.RunUntil([&] { return h.record().state == CampaignState::kAwaitingFinalize; }));
  EXPECT_EQ(h.campaign->FinalizeWaitsFor(), std::vector<std::string>{});
  h.RunFor(1000);  // no timeout: the operator decides
  EXPECT_EQ(h.record().state, CampaignState::kAwaitingFinalize);
  EXPECT_TRUE(h.host.Commands("SetClusterVersion").empty());
  ASSERT_TRUE(h.campaign->Finalize().ok());
  EXPECT_TRUE(h.host.persisted->finalize_requested);
  ASSERT_TRUE(h.RunToEnd());
  ExpectUpgraded(h);
}

TEST_F(CampaignTest, FinalizeNamesAReplicaThatDoesNotReport) {
  CampaignRecord r = NewRecord();
  r.auto_finalize = false;
  Harness h(r);
  ASSERT_TRUE(h.RunUntil([&] { return h.record().state == CampaignState::kAwaitingFinalize; }));
  h.host.replicas["a"].report.reset();
  EXPECT_EQ(h.campaign->FinalizeWaitsFor(), std::vector<std::string>{"replica a to report"});
  EXPECT_EQ(h.campaign->Finalize().code(), Code::kFailedPrecondition);
}

TEST_F(CampaignTest, ARollingBackCampaignCannotBeFinalized) {
  Harness h(NewRecord());
  ASSERT_TRUE(h.RunUntilStep("Soak"));
  h.host.switchover_completes = false;  // keeps it rolling back
  ASSERT_TRUE(h.campaign->Abort("aborted by the operator").ok());
  h.Step();
  EXPECT_TRUE(Contains(h.campaign->FinalizeWaitsFor(), "nothing: the campaign is rolling back"));
  EXPECT_EQ(h.campaign->Finalize().code(), Code::kFailedPrecondition);
  h.host.switchover_completes = true;
  ASSERT_TRUE(h.RunToEnd());
  ExpectRestored(h);
}

// --- resume ------------------------------------------------------------------------------

// A record as persisted in `phase` by a campaign that chose b first.
CampaignRecord Persisted(const std::string& phase) {
  CampaignRecord r = NewRecord();
  r.phase = *FromName<CampaignPhase>(phase);
  r.first = "b";
  r.second = "a";
  r.state = phase == "RollingBack" ? CampaignState::kRollingBack : CampaignState::kRunning;
  if (phase == "RollingBack") r.reason = "Soak: replica b is unhealthy: crashed";
  r.steps = {{CampaignStep::kVerify, StepOutcome::kOk, "", 1000, 1010}};
  return r;
}

struct ResumeCase {
  std::string name;
  std::string phase;
  std::function<void(FakeHost&)> world;  // consistent with the phase
  std::string first_new_step;
  bool completes;
};

std::vector<ResumeCase> ResumeCases() {
  return {
      {"Prepare", "Prepare", [](FakeHost& h) { h.lock = true; }, "Verify", true},
      {"UpgradeFirstWhileBRestarts", "UpgradeFirst",
       [](FakeHost& h) {
         h.lock = true;
         h.replicas["b"].isolated = true;
         h.replicas["b"].assigned = kNew;
         h.replicas["b"].reload_to = kNew;
         h.Derive();
       },
       "IsolateFirst", true},
      {"EvaluateBeforeTheSwitchover", "Evaluate",
       [](FakeHost& h) {
         h.lock = true;
         h.Place("a", kOld, kNew);
       },
       "SwitchToNew", true},
      {"EvaluateAfterTheSwitchover", "Evaluate",
       [](FakeHost& h) {
         h.lock = true;
         h.Place("b", kOld, kNew);
       },
       "SwitchToNew", true},
      {"UpgradeSecondWhileARestarts", "UpgradeSecond",
       [](FakeHost& h) {
         h.lock = true;
         h.Place("b", kOld, kNew);
         h.replicas["a"].isolated = true;
         h.replicas["a"].assigned = kNew;
         h.replicas["a"].reload_to = kNew;
         h.Derive();
       },
       "IsolateSecond", true},
      {"Conclude", "Conclude",
       [](FakeHost& h) {
         h.lock = true;
         h.Place("b", kNew, kNew);
       },
       "PostValidate", true},
      {"ConcludeAfterTheClusterVersionWasRaised", "Conclude",
       [](FakeHost& h) {
         h.cluster_version = kNew;
         h.Place("b", kNew, kNew);
       },
       "PostValidate", true},
      {"RollingBackAfterTheSoak", "RollingBack",
       [](FakeHost& h) {
         h.lock = true;
         h.Place("b", kOld, kNew);
       },
       "RestoreActive", false},
      {"RollingBackWithBothUpgraded", "RollingBack",
       [](FakeHost& h) {
         h.lock = true;
         h.Place("b", kNew, kNew);
       },
       "RestoreActive", false},
      {"RollingBackWithTheOldActiveAgain", "RollingBack",
       [](FakeHost& h) {
         h.lock = true;
         h.Place("a", kOld, kNew);
       },
       "RestoreActive", false},
  };
}

TEST_F(CampaignTest, AResumedCampaignEndsCorrectlyFromEveryPersistedPhase) {
  for (const ResumeCase& c : ResumeCases()) {
    SCOPED_TRACE(c.name);
    CampaignRecord r = Persisted(c.phase);
    if (c.name == "ConcludeAfterTheClusterVersionWasRaised") r.finalized = true;
    Harness h(r);
    c.world(h.host);
    ASSERT_TRUE(h.RunToEnd());
    ASSERT_FALSE(h.host.phases.empty());
    EXPECT_EQ(h.host.phases.front(), c.phase);  // resumed where it was, not from the start
    ASSERT_GE(h.record().steps.size(), 2u);
    EXPECT_EQ(Name(h.record().steps[1].step), c.first_new_step);
    if (c.completes) {
      ExpectUpgraded(h);
    } else {
      ExpectRestored(h);
      EXPECT_EQ(h.record().reason, "Soak: replica b is unhealthy: crashed");  // kept
    }
    EXPECT_LE(h.host.Commands("SetClusterVersion").size(), 1u);
  }
}

// The coordinator was killed while the campaign awaited finalize. Before the new one's
// first tick, the resumed campaign showed "awaiting finalize" from its record, yet the
// tick re-entered Conclude ("running"), so a finalize sent on seeing it was refused (seen
// in upgrade_test under ASan on a loaded machine).
TEST_F(CampaignTest, AResumedCampaignAwaitsFinalizeOnlyAfterCheckingAgain) {
  CampaignRecord r = Persisted("Conclude");
  r.state = CampaignState::kAwaitingFinalize;
  r.auto_finalize = false;
  Harness h(r);
  h.host.lock = true;
  h.host.Place("b", kNew, kNew);
  EXPECT_EQ(h.record().state, CampaignState::kRunning);
  EXPECT_TRUE(Contains(h.campaign->FinalizeWaitsFor(), "the soak and post-validation to finish"));
  ASSERT_TRUE(h.RunUntil([&] { return h.record().state == CampaignState::kAwaitingFinalize; }));
  ASSERT_NE(h.FindStep("PostValidate"), nullptr);
  EXPECT_EQ(h.FindStep("PostValidate")->result, StepOutcome::kOk);
  ASSERT_TRUE(h.campaign->Finalize().ok());
  ASSERT_TRUE(h.RunToEnd());
  ExpectUpgraded(h);
}

TEST_F(CampaignTest, AFinishedCampaignResumesFinished) {
  for (const auto& [phase, state] : {std::pair{"Completed", CampaignState::kCompleted},
                                     std::pair{"RolledBack", CampaignState::kRolledBack}}) {
    CampaignRecord r = Persisted(phase);
    r.state = state;
    Harness h(r);
    for (int i = 0; i < 3; ++i) h.Step();
    EXPECT_EQ(h.record().state, state);
    EXPECT_TRUE(h.host.commands.empty());
  }
}

// The coordinator is killed after every tick in turn (at most once per run) and started
// again from its persisted record: the campaign ends as it would have without the restart.
void RestartAtEveryTick(const std::function<void(Harness&)>& setup,
                        const std::function<void(const Harness&)>& expect) {
  Harness reference(NewRecord());
  setup(reference);
  int ticks = 0;
  for (; !reference.record().Done() && ticks < kRunMaxMs / kTickMs; ++ticks) reference.Step();
  ASSERT_TRUE(reference.record().Done());
  expect(reference);
  EXPECT_GT(ticks, 20);  // the campaign is long enough for the restarts to land everywhere
  for (int kill_at = 1; kill_at < ticks; ++kill_at) {
    SCOPED_TRACE("restarted after tick " + std::to_string(kill_at));
    Harness h(NewRecord());
    setup(h);
    for (int i = 0; i < kill_at && !h.record().Done(); ++i) h.Step();
    h.Restart();
    ASSERT_TRUE(h.RunToEnd());
    expect(h);
    if (::testing::Test::HasFailure()) return;  // one restart point is enough to debug
  }
}

TEST_F(CampaignTest, ACoordinatorRestartedAtAnyTickStillCompletes) {
  RestartAtEveryTick([](Harness&) {}, [](const Harness& h) { ExpectUpgraded(h); });
}

TEST_F(CampaignTest, ACoordinatorRestartedAtAnyTickOfARollBackOfBothReplicasStillRollsBack) {
  RestartAtEveryTick(
      [](Harness& h) {
        h.work_answers["digests@PostValidate"] = Corruption("state digests differ at seq 9");
      },
      [](const Harness& h) { ExpectRestored(h); });
}

TEST_F(CampaignTest, ACoordinatorRestartedAtAnyTickOfARollBackStillRollsBack) {
  RestartAtEveryTick([](Harness& h) { h.host.unhealthy_versions[kNew] = "self-check failed"; },
                     [](const Harness& h) { ExpectRestored(h); });
}

// A coordinator with etcd whose write of the campaign fails ends its term: the Fatal handler
// throws out of Persist, through the Boost.Statechart machine, the term (and the campaign in
// it) is dropped, and the next term resumes from what was durable. Every write fails in turn.
void FailEveryPersistInTurn(const std::function<void(Harness&)>& setup,
                            const std::function<void(const Harness&)>& expect) {
  Harness reference(NewRecord());
  setup(reference);
  ASSERT_TRUE(reference.RunToEnd());
  expect(reference);
  const int persists = reference.host.persists;
  EXPECT_GT(persists, 20);
  for (int fail_at = 1; fail_at <= persists; ++fail_at) {
    SCOPED_TRACE("persist " + std::to_string(fail_at) + " of " + std::to_string(persists) +
                 " failed");
    Harness h(NewRecord());
    setup(h);
    h.host.fail_persist_at = fail_at;
    std::string failed;
    try {
      h.RunToEnd();
    } catch (const PersistFailed& e) {
      failed = e.what();
    }
    ASSERT_EQ(failed, "persist " + std::to_string(fail_at)) << "the failed write ends the term";
    h.host.fail_persist_at = 0;
    h.campaign.reset();  // the term ends: its machine is destroyed after the exception
    if (h.host.persisted) {
      ASSERT_NO_FATAL_FAILURE(h.Restart());
    } else {
      h.Start(NewRecord());  // nothing was durable: the campaign had not begun
    }
    ASSERT_TRUE(h.RunToEnd());
    expect(h);
    if (::testing::Test::HasFailure()) return;  // one failed write is enough to debug
  }
}

TEST_F(CampaignTest, AFailedPersistEndsTheTermAndTheNextTermStillCompletes) {
  FailEveryPersistInTurn([](Harness&) {}, [](const Harness& h) { ExpectUpgraded(h); });
}

TEST_F(CampaignTest, AFailedPersistDuringARollBackEndsTheTermAndTheNextStillRollsBack) {
  FailEveryPersistInTurn(
      [](Harness& h) {
        h.work_answers["digests@PostValidate"] = Corruption("state digests differ at seq 9");
      },
      [](const Harness& h) { ExpectRestored(h); });
}

// --- regressions: product bugs these tests found, now fixed (the note on each says what was wrong)

// Soak::Run (evaluate.cc) measures the digest check's timeout from the start of the step,
// which includes the soak itself: with soak_ms >= step_timeout_ms the tick that starts the
// digest check also finds it timed out, so every long soak rolls back.
TEST_F(CampaignTest, ASoakLongerThanTheStepTimeoutStillWaitsForTheDigests) {
  CampaignRecord r = NewRecord();
  r.soak_ms = 4000;  // options.step_timeout_ms is 3000
  Harness h(r);
  ASSERT_TRUE(h.RunToEnd());
  // Actual: rolled back, "Soak: digest check timed out".
  EXPECT_EQ(h.record().state, CampaignState::kCompleted) << h.record().reason;
}

// SwitchToNew (evaluate.cc) measures switchover_wait_ms from the start of the step: if the
// fresh replica was briefly out of sync for longer than that, the switchover is requested
// and judged failed in the same tick, before it could complete.
TEST_F(CampaignTest, ASwitchoverRequestedLateInTheStepGetsItsFullWait) {
  Harness h(NewRecord());
  ASSERT_TRUE(h.RunUntilStep("SyncFirst"));
  ASSERT_TRUE(h.RunUntil([&] { return h.FindStep("SyncFirst")->result == StepOutcome::kOk; }));
  h.host.replicas["b"].can_catch_up = false;
  h.host.replicas["b"].in_sync = false;  // a lag spike: the active went solo for a while
  h.host.Derive();
  h.RunFor(h.options.switchover_wait_ms + 500);
  h.host.replicas["b"].can_catch_up = true;
  ASSERT_TRUE(h.RunToEnd());
  // Actual: rolled back, "SwitchToNew: switchover to b did not complete".
  EXPECT_EQ(h.record().state, CampaignState::kCompleted) << h.record().reason;
}

// After Finalize persisted finalized=true, a restarted coordinator resumes in Conclude and
// re-runs PostValidate/PostHealthCheck, whose NOK transits to RollingBack (conclude.cc):
// the finalized cluster is reloaded with the old version, which the requirement forbids.
TEST_F(CampaignTest, AResumedFinalizedCampaignNeverRollsBack) {
  CampaignRecord r = Persisted("Conclude");
  r.finalized = true;
  Harness h(r);
  h.host.cluster_version = kNew;
  h.host.Place("b", kNew, kNew);
  h.work_answers["digests"] = Unavailable("digest: a replica does not answer");
  (void)h.RunToEnd(10000);  // it may also wait forever; it must not roll back
  EXPECT_NE(h.record().state, CampaignState::kRolledBack) << h.record().reason;
  EXPECT_FALSE(h.host.Issued("Reload", "a", kOld));
  EXPECT_FALSE(h.host.Issued("Reload", "b", kOld));
}

// Campaign::Abort (machine.cc) posts EvAbort, but before the first tick the machine is in
// Resuming, which has no reaction to it: the abort is discarded, Abort still returns ok, and
// the campaign then goes on upgrading.
TEST_F(CampaignTest, AnAbortBeforeTheFirstTickIsNotLost) {
  Harness h(Persisted("Evaluate"));
  h.host.lock = true;
  h.host.Place("a", kOld, kNew);
  ASSERT_TRUE(h.campaign->Abort("aborted by the operator").ok());
  ASSERT_TRUE(h.RunToEnd());
  EXPECT_EQ(h.record().state, CampaignState::kRolledBack);
  EXPECT_TRUE(h.host.Commands("Switchover").empty());
}

// A pre-check NOK has changed nothing, but RollingBack's RestoreStandby (roll_back.cc) still
// waits for the standby to be on the old version and in sync: when the pre-health check
// failed because the standby is out of sync (or down), the campaign stays "rolling back"
// until it recovers — it cannot be aborted, and no new campaign can start.
TEST_F(CampaignTest, AnUpgradeIsNotStartedUnderALoadAboveTheThreshold) {
  Harness h(NewRecord());
  h.options.load_ops_per_s_max = 100;
  h.Start(NewRecord());
  // 10 answers per 10 ms tick: 1000 ops/s, ten times the threshold.
  for (int i = 0; i < 2000 && !h.record().Done(); ++i) {
    h.host.replicas["a"].report->requests_total += 10;
    h.Step();
  }
  EXPECT_EQ(h.record().state, CampaignState::kRolledBack);
  EXPECT_EQ(h.record().reason.rfind("PreHealthCheck: load ", 0), 0u) << h.record().reason;
  EXPECT_TRUE(h.host.Commands("Reload").empty());
}

TEST_F(CampaignTest, APreHealthCheckFailureEndsRolledBackEvenIfTheStandbyStaysDown) {
  Harness h(NewRecord());
  h.host.replicas["b"].report.reset();  // b's process is down
  h.host.Derive();
  ASSERT_TRUE(h.RunToEnd());
  EXPECT_EQ(h.record().state, CampaignState::kRolledBack);
  EXPECT_EQ(h.record().reason, "PreHealthCheck: replica b is not reporting");
}

// Isolate() (upgrade.cc) sends Isolate(r, true) before checking whether r is active; when it
// is (a failover made the first replica active), the step NOKs, and RollingBack clears only
// the other replica's isolation: the active stays isolated in the cluster record, so once
// it loses the active role it is kept out of service and is never promotable again.
TEST_F(CampaignTest, RollingBackLeavesNoReplicaIsolated) {
  Harness h(Persisted("UpgradeFirst"));
  h.host.lock = true;
  h.host.Place("b", kOld, kOld);  // a crashed while b was about to be isolated; b took over
  ASSERT_TRUE(h.RunToEnd());
  EXPECT_EQ(h.record().state, CampaignState::kRolledBack);
  EXPECT_EQ(h.record().reason, "IsolateFirst: b is active: it cannot be isolated");
  EXPECT_FALSE(h.host.replicas["a"].isolated);
  EXPECT_FALSE(h.host.replicas["b"].isolated);
}

// RestoreActive (roll_back.cc) means to retry a switchover that did not complete once per
// switchover_wait_ms, but once the step is older than that it erases its Once mark on every
// tick: the switchover is requested on every tick from then on.
TEST_F(CampaignTest, RollingBackRetriesTheSwitchoverOncePerWait) {
  Harness h(NewRecord());
  ASSERT_TRUE(h.RunUntilStep("Soak"));
  h.host.switchover_completes = false;
  ASSERT_TRUE(h.campaign->Abort("aborted by the operator").ok());
  h.RunFor(3 * h.options.switchover_wait_ms);
  EXPECT_LE(h.host.Commands("Switchover").size(), 1u + 4u);  // the one to b, then <= 4 tries
}

// PostValidate is still comparing digests, yet FinalizeWaitsFor (machine.cc) only checks
// that the phase is Conclude: "the soak and post-validation to finish" is not reported and
// Finalize is accepted before post-validation finished.
TEST_F(CampaignTest, FinalizeWaitsForPostValidationToFinish) {
  CampaignRecord r = NewRecord();
  r.auto_finalize = false;
  Harness h(r);
  h.work_answers.erase("digests");
  ASSERT_TRUE(h.RunUntilWorkStarted("digests"));
  h.campaign->OnWorkDone(WorkKind::kDigests, Status::Ok());  // the soak's
  h.host.pending_work.clear();
  ASSERT_TRUE(h.RunUntilWorkStarted("digests"));  // post-validation's, not answered yet
  ASSERT_EQ(h.host.Commands("StartWork").back().persisted_step, "PostValidate");
  EXPECT_TRUE(Contains(h.campaign->FinalizeWaitsFor(), "the soak and post-validation to finish"));
  EXPECT_EQ(h.campaign->Finalize().code(), Code::kFailedPrecondition);
}

// A coordinator restarted during the soak re-entered Soak on its first tick, before the
// standby's first heartbeat had reached it, and rolled back: "Soak: replica a is not
// reporting" (seen in CI, upgrade_test, killed in Soak). A resumed campaign now waits for
// both replicas to report, bounded by resume_grace_ms.
TEST_F(CampaignTest, AResumedSoakWaitsForTheReplicasFirstReports) {
  Harness h(Persisted("Evaluate"));
  h.host.lock = true;
  h.host.Place("b", kOld, kNew);
  h.host.replicas["a"].report.reset();  // not heard from yet by the new coordinator
  for (int i = 0; i < 5; ++i) h.Step();
  EXPECT_EQ(h.record().state, CampaignState::kRunning);
  h.host.Place("b", kOld, kNew);
  ASSERT_TRUE(h.RunToEnd());
  ExpectUpgraded(h);
}

// An abort while a resumed campaign still waits for the replicas' first reports is kept
// until it leaves Resuming, not dropped while Abort answers ok.
TEST_F(CampaignTest, AnAbortWhileAResumedCampaignWaitsForReportsIsNotLost) {
  Harness h(Persisted("Evaluate"));
  h.host.lock = true;
  h.host.Place("a", kOld, kNew);
  h.host.replicas["b"].report.reset();  // not heard from yet by the new coordinator
  h.Step();
  ASSERT_TRUE(h.campaign->Abort("aborted by the operator").ok());
  h.host.Place("a", kOld, kNew);
  ASSERT_TRUE(h.RunToEnd());
  EXPECT_EQ(h.record().state, CampaignState::kRolledBack);
  EXPECT_TRUE(h.host.Commands("Switchover").empty());
}

TEST_F(CampaignTest, AResumedCampaignJudgesAReplicaThatStaysSilent) {
  Harness h(Persisted("Evaluate"));
  h.host.lock = true;
  h.host.Place("b", kOld, kNew);
  h.host.replicas["a"].report.reset();
  const int64_t resumed_ms = h.now_ms;
  ASSERT_TRUE(h.RunUntil([&] { return h.record().state != CampaignState::kRunning; }));
  EXPECT_GE(h.now_ms - resumed_ms, h.options.resume_grace_ms);
  EXPECT_EQ(h.record().reason, "Soak: replica a is not reporting");
}

}  // namespace
// --- work results as events --------------------------------------------------------------

// Boost.Statechart does not nest reactions: a result delivered from inside StartWork (so
// from inside the tick) is queued and reaches the step right after the tick.
TEST_F(CampaignTest, WorkAnsweredFromInsideStartWorkReachesTheStepAfterTheTick) {
  Harness h(NewRecord());
  h.host.answer_at_once = [&](WorkKind kind) { h.campaign->OnWorkDone(kind, Status::Ok()); };
  ASSERT_TRUE(h.RunToEnd());
  EXPECT_EQ(h.record().state, CampaignState::kCompleted) << h.record().reason;
  EXPECT_EQ(h.FindStep("Verify")->reason, "checksum verified");
}

// A step takes the result of the work it started, and no other: a result of another kind
// (a late answer to a step since left) changes nothing.
TEST_F(CampaignTest, AStepIgnoresAResultOfWorkItDidNotStart) {
  Harness h(NewRecord());
  h.work_answers.erase("verify");
  ASSERT_TRUE(h.RunUntilWorkStarted("verify"));
  h.campaign->OnWorkDone(WorkKind::kDigests, Corruption("a late digest result"));
  h.campaign->OnWorkDone(WorkKind::kBackup, Corruption("a late backup result"));
  h.RunFor(100);
  ASSERT_NE(h.FindStep("Verify"), nullptr);
  EXPECT_EQ(h.FindStep("Verify")->result, StepOutcome::kRunning);
  h.campaign->OnWorkDone(WorkKind::kVerify, Status::Ok());
  h.host.pending_work.clear();
  ASSERT_TRUE(h.RunToEnd());
  EXPECT_EQ(h.record().state, CampaignState::kCompleted) << h.record().reason;
}

// After an abort, the soak's digest comparison may still answer: nobody awaits it.
TEST_F(CampaignTest, ADigestResultAfterTheSoakWasAbortedChangesNothing) {
  Harness h(NewRecord());
  h.work_answers.erase("digests");
  ASSERT_TRUE(h.RunUntilWorkStarted("digests"));
  ASSERT_TRUE(h.campaign->Abort("aborted by the operator").ok());
  h.campaign->OnWorkDone(WorkKind::kDigests, Status::Ok());
  h.host.pending_work.clear();
  ASSERT_TRUE(h.RunToEnd());
  ExpectRestored(h);
  EXPECT_EQ(h.record().reason, "aborted by the operator");
}

// --- the persisted record ----------------------------------------------------------------

// A record as today's coordinators write it: the names are the contract with older and
// newer coordinators and with scripts, so it loads into the enums and is written back
// byte for byte.
TEST(CampaignRecordJson, ARecordInTodaysFormatLoadsAndIsWrittenBackUnchanged) {
  const std::string stored =
      R"({"auto_finalize":false,"baseline":[120,1,900,130,2],"finalize_requested":false,)"
      R"("finalized":false,"first":"b","forced":false,"from":"1.0.0","id":3,)"
      R"("phase":"RollingBack","reason":"Soak: replica b is unhealthy: crashed",)"
      R"("second":"a","soak_ms":5000,"state":"rolling back","steps":[)"
      R"({"ended_ms":1010,"reason":"checksum verified","result":"ok","started_ms":1000,)"
      R"("step":"Verify"},)"
      R"({"ended_ms":8000,"reason":"replica b is unhealthy: crashed","result":"nok",)"
      R"("started_ms":5000,"step":"Soak"},)"
      R"({"ended_ms":0,"reason":"","result":"running","started_ms":9000,)"
      R"("step":"RestoreActive"}],"to":"2.0.0"})";
  auto record = CampaignFromJson(stored);
  ASSERT_TRUE(record.ok()) << record.status().ToString();
  EXPECT_EQ(record->phase, CampaignPhase::kRollingBack);
  EXPECT_EQ(record->state, CampaignState::kRollingBack);
  ASSERT_EQ(record->steps.size(), 3u);
  EXPECT_EQ(record->steps[0].step, CampaignStep::kVerify);
  EXPECT_EQ(record->steps[1].result, StepOutcome::kNok);
  EXPECT_EQ(record->steps[2].step, CampaignStep::kRestoreActive);
  EXPECT_EQ(record->steps[2].result, StepOutcome::kRunning);
  EXPECT_EQ(CampaignToJson(*record), stored);
}

TEST(CampaignRecordJson, EveryNameReadsBackAsItself) {
  for (int i = 0; i <= static_cast<int>(CampaignState::kRolledBack); ++i) {
    auto state = static_cast<CampaignState>(i);
    EXPECT_EQ(FromName<CampaignState>(Name(state)), state);
  }
  for (int i = 0; i <= static_cast<int>(CampaignPhase::kRolledBack); ++i) {
    auto phase = static_cast<CampaignPhase>(i);
    EXPECT_EQ(FromName<CampaignPhase>(Name(phase)), phase);
  }
  for (int i = 0; i <= static_cast<int>(CampaignStep::kRestoreStandby); ++i) {
    auto step = static_cast<CampaignStep>(i);
    EXPECT_EQ(FromName<CampaignStep>(Name(step)), step);
  }
  EXPECT_EQ(Name(CampaignPhase::kNew), "");
  EXPECT_EQ(Name(WorkKind::kDigests), "digests");
}

TEST(CampaignRecordJson, AnUnknownStateIsADamagedRecordNamingTheField) {
  CampaignRecord r = NewRecord();
  std::string text = CampaignToJson(r);
  size_t at = text.find("\"running\"");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 9, "\"sprinting\"");
  auto loaded = CampaignFromJson(text);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), Code::kCorruption);
  EXPECT_NE(loaded.status().message().find("state"), std::string::npos)
      << loaded.status().message();
}

}  // namespace duplex
