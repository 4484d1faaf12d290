#include "chaos/upgrade_run.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "upgrade_coordinator/admin_client.h"

namespace duplex {

StatusOr<UpgradeRun> RunUpgrade(const ClusterFixture& cluster, const Workload& workload,
                                const std::string& package_dir, int64_t soak_ms, int timeout_ms,
                                const std::function<void(const std::string&)>& progress) {
  const ClusterConfig& config = cluster.config();
  auto added = PostJson(config, "/packages", {{"path", package_dir}}, 120000);
  if (!added.ok()) return added.status();
  int64_t t0 = NowUs();
  auto started = PostJson(
      config, "/upgrade/start",
      {{"to", added->value("version", "")}, {"soak_ms", soak_ms}, {"auto_finalize", true}}, 10000);
  if (!started.ok()) return started.status();
  UpgradeRun run;
  size_t shown = 0;
  while (NowUs() - t0 < int64_t{timeout_ms} * 1000) {
    auto view = GetJson(config, "/upgrade");
    if (view.ok() && (*view)["campaign"].is_object()) {
      run.campaign = (*view)["campaign"];
      const auto& steps = run.campaign["steps"];
      for (; shown < steps.size() && steps[shown].value("result", "") != "running"; ++shown) {
        const auto& s = steps[shown];
        char line[256];
        std::snprintf(line, sizeof(line), "  %+7.1f s  %-16s %s%s%s", (NowUs() - t0) / 1e6,
                      s.value("step", "").c_str(), s.value("result", "").c_str(),
                      s.value("reason", "").empty() ? "" : "  ", s.value("reason", "").c_str());
        if (progress) progress(line);
      }
      std::string state = run.campaign.value("state", "");
      if (state == "completed" || state == "rolled back") {
        run.outcome = state;
        break;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  int64_t t1 = NowUs();
  run.duration_ms = (t1 - t0) / 1000.0;
  if (run.outcome.empty()) run.outcome = "did not end within " + std::to_string(timeout_ms) + " ms";
  // Client-side view of the campaign window.
  std::vector<int64_t> acks;
  for (const auto& r : workload.History()) {
    if (r.complete_us < t0 || r.invoke_us > t1) continue;
    if (r.outcome == OpOutcome::kOk) acks.push_back(r.complete_us);
    if (r.outcome != OpOutcome::kOk) ++run.failed_requests;
  }
  std::sort(acks.begin(), acks.end());
  int64_t prev = t0, gap = 0;
  for (int64_t a : acks) {
    gap = std::max(gap, a - prev);
    prev = a;
  }
  run.unavailability_ms = std::max(gap, t1 - prev) / 1000.0;
  return run;
}

}  // namespace duplex
