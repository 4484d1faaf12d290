#include "cli/demo.h"

#include <signal.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "chaos/cluster_fixture.h"
#include "chaos/scenario.h"
#include "chaos/scenario_runner.h"
#include "chaos/upgrade_run.h"
#include "chaos/workload.h"
#include "cli/upgrade_commands.h"
#include "common/clock.h"
#include "replica/client.h"
#include "upgrade_coordinator/admin_client.h"

namespace duplex::cli {
namespace {

void Say(const char* fmt, auto... args) {
  std::printf(fmt, args...);
  std::fflush(stdout);
}

std::string StateLine(const nlohmann::json& st) {
  std::string line = "epoch " + std::to_string(st.value("epoch", 0)) + ", active " +
                     (st.value("active", "").empty() ? "(none)" : st.value("active", ""));
  for (const auto& r : st.value("replicas", nlohmann::json::array())) {
    line += "; " + r.value("name", "?") + " " +
            (r.value("alive", false) ? r.value("state", "starting") : "down");
  }
  return line;
}

// Prints every change of the cluster's state for up to timeout_ms after t0, until ready.
void Watch(const ClusterFixture& cluster, const Workload& workload, int64_t t0, int old_index,
           int timeout_ms) {
  std::string last;
  bool acked = false;
  while (NowUs() - t0 < int64_t{timeout_ms} * 1000) {
    auto st = cluster.Status();
    double ms = (NowUs() - t0) / 1000.0;
    if (!acked) {
      int64_t first = workload.FirstAckAfter(t0, old_index);
      if (first >= 0) {
        Say("  %+8.1f ms  first write acknowledged by the new active\n", (first - t0) / 1000.0);
        acked = true;
      }
    }
    if (st.ok()) {
      std::string line = StateLine(*st);
      if (line != last) Say("  %+8.1f ms  %s\n", ms, line.c_str());
      last = line;
      if (acked && PairReady(*st)) return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

// One request through a fresh client, shown as the answer a user would see.
std::string Ask(const ClusterFixture& cluster, const std::string& op,
                std::vector<std::string> args) {
  ClientOptions options;
  options.endpoints = cluster.Endpoints();
  Client client(options);
  auto r = client.Call(op, std::move(args));
  if (!r.ok()) return "error: " + r.status().message();
  if (r->code != Code::kOk) return "refused: " + r->message;
  return "ok" + (r->value.empty() ? "" : " " + r->value);
}

void SayText(const StatusOr<std::string>& text) {
  Say("%s", text.ok() ? text->c_str() : (text.status().message() + "\n").c_str());
}

// [6]: the rolling upgrade to kv 2.0.0 under the running workload. False when it did
// not complete.
bool DemoUpgrade(const ClusterFixture& cluster, const Workload& workload,
                 const std::string& build_dir, UpgradeRun* run) {
  const ClusterConfig& config = cluster.config();
  std::string package =
      std::filesystem::absolute(std::filesystem::path(build_dir) / "packages" / "kv-2.0.0");
  Say("\n[6] rolling upgrade to kv 2.0.0 under the same load\n");
  Say("    $ duplex package add %s\n    ", package.c_str());
  auto added = UploadPackage(config, package, 120000);
  if (!added.ok()) {
    Say("%s\n", added.status().message().c_str());
    return false;
  }
  SayText(FormatStoredPackage(*added));
  Say("    $ duplex upgrade plan --to 2.0.0\n");
  auto plan = GetJson(config, "/upgrade/plan?to=2.0.0");
  if (plan.ok()) SayText(FormatPlan(*plan));
  Say("    a 2.0-only request before the upgrade: PUTEX greeting hello 60000 -> %s\n",
      Ask(cluster, "PUTEX", {"greeting", "hello", "60000"}).c_str());
  Say("    $ duplex upgrade start --to 2.0.0 --soak 2s   (then: duplex upgrade status --watch)\n");
  UpgradeRunOptions options;
  options.package_dir = package;
  options.soak_ms = 2000;
  options.timeout_ms = 180000;
  options.auto_finalize = false;
  options.progress = [](const std::string& line) { Say("%s\n", line.c_str()); };
  options.before_finalize = [&] {
    Say("    both replicas run 2.0.0 with its features still off; PUTEX -> %s\n",
        Ask(cluster, "PUTEX", {"greeting", "hello", "60000"}).c_str());
    Say("    $ duplex upgrade finalize\n");
  };
  auto result = RunUpgrade(cluster, workload, options);
  if (!result.ok()) {
    Say("    upgrade: %s\n", result.status().message().c_str());
    return false;
  }
  *run = *result;
  Say("    $ duplex features\n");
  auto features = GetJson(config, "/features");
  if (features.ok()) SayText(FormatFeatures(*features));
  std::string put = Ask(cluster, "PUTEX", {"greeting", "hello", "60000"});
  std::string ttl = Ask(cluster, "TTL", {"greeting"});  // after the PUTEX: not in one call
  Say("    a 2.0-only request now: PUTEX greeting hello 60000 -> %s; TTL greeting -> %s ms\n",
      put.c_str(), ttl.c_str());
  return run->end == CampaignState::kCompleted;
}

// [8]: one chaos scenario from the catalogue, judged on every invariant.
bool DemoChaos(const std::string& build_dir) {
  const std::string name = "kill-active-during-evaluate";
  Say("\n[8] chaos: $ duplex chaos run %s\n", name.c_str());
  auto scenario = LoadScenario(std::string(DUPLEX_SCENARIO_DIR) + "/" + name + ".yaml");
  if (!scenario.ok()) {
    Say("    %s\n", scenario.status().message().c_str());
    return false;
  }
  Say("    %s\n", scenario->description.c_str());
  RunOptions options;
  options.seed = 42;
  options.build_dir = build_dir;
  options.scratch = build_dir + "/demo-chaos";
  options.report_dir = std::filesystem::absolute(build_dir + "/chaos/" + name + "-42").string();
  options.log = [](const std::string& line) { Say("  %s\n", line.c_str()); };
  auto run = RunScenario(*scenario, options);
  if (!run.ok()) {
    Say("    chaos: %s\n", run.status().message().c_str());
    return false;
  }
  Say("    campaign outcome: %s (expected: %s)\n", (*run).value("outcome", "").c_str(),
      (*run).value("expected_outcome", "").c_str());
  for (const auto& i : (*run)["invariants"]) {
    Say("    %-22s %s\n", i.value("name", "").c_str(), i.value("ok", false) ? "ok" : "VIOLATED");
  }
  Say("    verdict %s; report: %s/report.html\n", (*run)["verdict"] == "pass" ? "PASS" : "FAIL",
      options.report_dir.c_str());
  return (*run)["verdict"] == "pass";
}

}  // namespace

int RunDemo(const std::string& duplex_binary, const DemoOptions& options) {
  FixtureOptions fo;
  fo.build_dir = std::filesystem::path(duplex_binary).parent_path().string();
  fo.dir = fo.build_dir + "/demo";
  fo.log_level = "warn";
  Say("== duplex demo: a kv 1.0.0 pair survives SIGKILL of its active, then a rolling\n"
      "   upgrade to 2.0.0 under load ==\n\n");
  Say("[1] deploying a coordinator and an agent, which starts 2 replicas, on loopback (data in "
      "%s)\n",
      fo.dir.c_str());
  auto started = ClusterFixture::Start(fo);
  if (!started.ok()) {
    Say("demo: %s\n", started.status().ToString().c_str());
    return 1;
  }
  ClusterFixture& cluster = **started;
  Say("%s\n", FormatStatusTable(*cluster.Status()).c_str());

  WorkloadOptions w;
  w.endpoints = cluster.Endpoints();
  w.clients = 3;
  w.attempt_timeout_ms = 50;
  Workload workload(w);
  workload.Start();
  Say("[2] 3 clients write unique keys and increment counters (sync mode: acknowledged only\n"
      "    once the standby has the write durably)\n");
  (void)workload.WaitAcked(2000, 20000);
  Say("    %llu writes acknowledged\n\n", static_cast<unsigned long long>(workload.acked()));

  auto active = cluster.ActiveName();
  auto pid = active.ok() ? cluster.PidOf(*active) : StatusOr<pid_t>(active.status());
  if (!pid.ok()) {
    Say("demo: %s\n", pid.status().ToString().c_str());
    return 1;
  }
  Say("[3] kill -9 %d  (replica %s, the active), clients keep writing\n", *pid, active->c_str());
  int64_t t0 = NowUs();
  ::kill(*pid, SIGKILL);
  int old_index = *active == cluster.config().replicas[0].name ? 0 : 1;
  Watch(cluster, workload, t0, old_index, 15000);
  int64_t first = workload.FirstAckAfter(t0, old_index);
  uint64_t before = workload.acked();
  (void)workload.WaitAcked(before + options.writes_after_kill, 20000);
  Say("\n[4] %d more writes on the new active; the killed replica restarted as standby:\n",
      options.writes_after_kill);
  (void)cluster.WaitReady(15000);
  Say("%s\n", FormatStatusTable(*cluster.Status()).c_str());

  Say("[5] planned switchover under the same load\n");
  auto sw = Post(cluster.config(), "/switchover", 10000);
  Say("    %s", sw.ok() ? sw->c_str() : (sw.status().message() + "\n").c_str());
  (void)cluster.WaitReady(15000);
  (void)workload.WaitAcked(workload.acked() + 500, 20000);

  UpgradeRun upgrade;
  bool upgraded = DemoUpgrade(cluster, workload, fo.build_dir, &upgrade);
  (void)workload.WaitAcked(workload.acked() + 500, 20000);
  workload.Stop();

  Say("\n[7] reading back every acknowledged write and comparing replica digests\n");
  CheckResult check = workload.Check();
  Status converged = cluster.WaitConverged(10000);
  cluster.Stop();
  Say("\n== result ==\n");
  Say("acknowledged writes        %llu\n", static_cast<unsigned long long>(check.ok));
  Say("lost acknowledged writes   %llu\n", static_cast<unsigned long long>(check.lost));
  Say("double-applied requests    %llu\n", static_cast<unsigned long long>(check.double_applied));
  Say("unknown outcome (timeout)  %llu\n", static_cast<unsigned long long>(check.info));
  Say("failover time              %.1f ms (kill -> first write acknowledged by the new active)\n",
      first > 0 ? (first - t0) / 1000.0 : -1.0);
  Say("rolling upgrade            %s in %.1f s; longest gap between acknowledged writes "
      "%.0f ms (at +%.1f s); %llu requests failed after retries\n",
      upgrade.outcome.empty() ? "did not run" : upgrade.outcome.c_str(),
      upgrade.duration_ms / 1000.0, upgrade.unavailability_ms,
      upgrade.unavailability_at_ms / 1000.0,
      static_cast<unsigned long long>(upgrade.failed_requests));
  Say("replica digests equal      %s\n", converged.ok() ? "yes" : converged.message().c_str());
  for (const auto& p : check.problems) Say("  problem: %s\n", p.detail.c_str());
  bool chaos = DemoChaos(fo.build_dir);
  return check.Clean() && converged.ok() && first > 0 && upgraded && chaos ? 0 : 1;
}

}  // namespace duplex::cli
