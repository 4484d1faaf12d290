#include "bench/hosts_system.h"

#include <algorithm>
#include <filesystem>

#include "chaos/lab/lab.h"
#include "common/net.h"

namespace duplex::bench {

const char* HostFaultKey(HostFault fault) {
  switch (fault) {
    case HostFault::kHostCrash:
      return "host_crash";
    case HostFault::kHostFreeze:
      return "host_freeze";
    case HostFault::kProcessCrash:
      return "remote_process_crash";
  }
  return "?";
}

int PortSource::Next() { return next_ == 0 ? PickFreePort() : next_++; }

std::string LabAddress(const LabOptions& options, int index) {
  return "127.0." + std::to_string(options.first_host + index) + ".1";
}

Status PrepareLabScratch(LabOptions* options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  options->build_dir = fs::absolute(options->build_dir, ec).lexically_normal().string();
  options->scratch = fs::absolute(options->scratch, ec).lexically_normal().string();
  if (StatusOr<lab::Lab> stale = lab::Lab::Open(options->scratch + "/lab"); stale.ok()) {
    (void)stale->Down();
  }
  fs::remove_all(options->scratch, ec);
  fs::create_directories(options->scratch, ec);
  if (ec) return IOError("cannot create " + options->scratch + ": " + ec.message());
  return Status::Ok();
}

CoordinatorTimes CoordinatorTimesAfter(std::istream& events, int64_t t_us,
                                       const std::string& old_active) {
  CoordinatorTimes times;
  for (std::string line; std::getline(events, line);) {
    const nlohmann::json e = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!e.is_object()) continue;
    const int64_t at = e.value("t_us", int64_t{-1});
    if (at < t_us) continue;
    const std::string kind = e.value("kind", "");
    if (times.down_us < 0 && kind == "replica" && e.value("replica", "") == old_active &&
        !e.value("alive", true)) {
      times.down_us = at;
    }
    const std::string active = e.value("active", old_active);
    if (times.promoted_us < 0 && kind == "cluster" && !active.empty() && active != old_active) {
      times.promoted_us = at;
    }
  }
  return times;
}

nlohmann::json HostTargets(const Figures& figures) {
  nlohmann::json out = nlohmann::json::object();
  for (HostFault fault : kHostFaults) {
    const std::string key = HostFaultKey(fault);
    const Figure* ms = figures.Find(key + "_failover_ms");
    if (ms == nullptr || ms->duplex.empty()) continue;
    // The targets: one network message for a process exit, the lease and the
    // failure timeout (200 ms each by default) for a host.
    const double target_ms = fault == HostFault::kProcessCrash ? 20 : 400;
    const double p99 = Quantile(ms->duplex, 0.99);
    nlohmann::json t = {
        {"p99_ms", p99}, {"p99_target_ms", target_ms}, {"p99_met", p99 < target_ms}};
    if (ms->Ratio() != 0) {
      t["speedup"] = 1 / ms->Ratio();
      t["speedup_met"] = 1 / ms->Ratio() >= 5;
    }
    double lost = 0;
    if (const Figure* l = figures.Find(key + "_lost_writes")) {
      for (double v : l->duplex) lost += v;
    }
    t["lost_writes"] = lost;
    t["lost_met"] = lost == 0;
    out[key + "_failover_ms"] = t;
  }
  return out;
}

}  // namespace duplex::bench
