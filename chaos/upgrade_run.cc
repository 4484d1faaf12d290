#include "chaos/upgrade_run.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "common/clock.h"
#include "upgrade_coordinator/admin_client.h"

namespace duplex {
namespace {

// Prints what changed since the last poll: steps that ended, and the running step's detail.
class ProgressPrinter {
 public:
  ProgressPrinter(int64_t t0_us, const std::function<void(const std::string&)>& out)
      : t0_us_(t0_us), out_(out) {}

  void Show(const nlohmann::json& campaign) {
    if (!out_) return;
    const auto& steps = campaign["steps"];
    auto running = [](const nlohmann::json& step) {
      return FromName<StepOutcome>(step.value("result", "")) == StepOutcome::kRunning;
    };
    for (; shown_ < steps.size() && !running(steps[shown_]); ++shown_) {
      const auto& s = steps[shown_];
      std::string reason = s.value("reason", "");
      Line(s.value("step", "") +
           std::string(16 - std::min<size_t>(16, s.value("step", "").size()), ' ') +
           s.value("result", "") + (reason.empty() ? "" : "  " + reason));
    }
    if (shown_ < steps.size()) {
      std::string detail = steps[shown_].value("detail", "");
      int64_t now = NowUs();
      if (!detail.empty() && detail != detail_ && now - detail_us_ >= 1000000) {
        Line(steps[shown_].value("step", "") + ": " + detail);
        detail_ = detail;
        detail_us_ = now;
      }
    }
  }

 private:
  void Line(const std::string& text) {
    char offset[32];
    std::snprintf(offset, sizeof(offset), "  %+7.1f s  ", (NowUs() - t0_us_) / 1e6);
    out_(offset + text);
  }

  int64_t t0_us_;
  const std::function<void(const std::string&)>& out_;
  size_t shown_ = 0;
  std::string detail_;
  int64_t detail_us_ = 0;
};

}  // namespace

StatusOr<UpgradeRun> RunUpgrade(const ClusterFixture& cluster, const Workload& workload,
                                const UpgradeRunOptions& options) {
  // Asked for each call: the acting coordinator may change during the campaign.
  auto added = UploadPackage(cluster.AdminConfig(), options.package_dir, 120000);
  if (!added.ok()) return added.status();
  int64_t t0 = NowUs();
  auto started = PostJson(cluster.AdminConfig(), "/upgrade/start",
                          {{"to", added->value("version", "")},
                           {"soak_ms", options.soak_ms},
                           {"auto_finalize", options.auto_finalize}},
                          10000);
  if (!started.ok()) return started.status();
  UpgradeRun run;
  ProgressPrinter printer(t0, options.progress);
  bool finalized = options.auto_finalize;
  while (NowUs() - t0 < int64_t{options.timeout_ms} * 1000) {
    auto view = GetJson(cluster.AdminConfig(), "/upgrade");
    if (view.ok() && (*view)["campaign"].is_object()) {
      run.campaign = (*view)["campaign"];
      printer.Show(run.campaign);
      std::optional<CampaignState> state = FromName<CampaignState>(run.campaign.value("state", ""));
      if (state && Ended(*state)) {
        run.end = state;
        run.outcome = Name(*state);
        break;
      }
      if (state == CampaignState::kAwaitingFinalize && !finalized) {
        if (options.before_finalize) options.before_finalize();
        auto done =
            PostJson(cluster.AdminConfig(), "/upgrade/finalize", nlohmann::json::object(), 10000);
        if (!done.ok()) return done.status();
        finalized = true;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  int64_t t1 = NowUs();
  run.duration_ms = (t1 - t0) / 1000.0;
  if (run.outcome.empty()) {
    run.outcome = "did not end within " + std::to_string(options.timeout_ms) + " ms";
  }
  // Client-side view of the campaign window.
  for (const auto& r : workload.History()) {
    if (r.complete_us < t0 || r.invoke_us > t1) continue;
    if (r.outcome != OpOutcome::kOk) ++run.failed_requests;
  }
  AckGap gap = workload.LongestAckGap(t0, t1);
  run.unavailability_ms = gap.length_us / 1000.0;
  run.unavailability_at_ms = (gap.start_us - t0) / 1000.0;
  // Steps are stamped with the coordinator's steady clock: the same clock as ours.
  for (const auto& step : run.campaign.value("steps", nlohmann::json::array())) {
    int64_t from = step.value("started_ms", int64_t{0}), to = step.value("ended_ms", int64_t{0});
    if (gap.start_us / 1000 >= from && (to == 0 || gap.start_us / 1000 < to)) {
      run.unavailability_step = step.value("step", "");
    }
    if (from > 0 && to > from) {
      AckGap own = workload.LongestAckGap(from * 1000, to * 1000);
      run.gap_by_step_ms.emplace_back(step.value("step", ""), own.length_us / 1000.0);
    }
  }
  return run;
}

}  // namespace duplex
