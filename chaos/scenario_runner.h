// RunScenario: one chaos experiment against real processes — a ClusterFixture whose
// links go through fault proxies (chaos/fault_proxy.h) and whose replicas' storage goes
// through fault filesystems (chaos/hooks/fault_fs.h), or with `hosts:` a lab of hosts
// (chaos/lab, no proxies: host faults instead), a recording workload, an optional
// rolling upgrade, the scenario's faults fired by their triggers, then the checks:
// every invariant of DESIGN.md ("Chaos") over the client history and the coordinator's
// event log. Blocking, bounded by the scenario's bounds; one run at a time per process.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "chaos/scenario.h"
#include "common/status.h"

namespace duplex {

struct RunOptions {
  uint64_t seed = 1;
  std::string build_dir;   // where duplex, the kv binaries and packages/ are
  std::string scratch;     // the cluster's data; wiped at start
  std::string report_dir;  // result.json, report.html, history.jsonl ("" = none)
  std::function<void(const std::string&)> log;  // progress lines (optional)
  // A scenario with `hosts:` runs on a lab whose hosts are 127.0.<lab_first_host>.1 onwards;
  // the cluster's ports come from [port_first, port_last] (0: any free port). Tests that run
  // beside other labs keep to their own addresses and ports.
  int lab_first_host = 1;
  int port_first = 0;
  int port_last = 0;
};

// The run as JSON (the report's input, see chaos/report.h): verdict, invariants with
// their violations, faults injected, ops, failover and convergence times, events and
// throughput. An error only when the run could not take place at all (e.g. no cluster).
StatusOr<nlohmann::json> RunScenario(const Scenario& scenario, const RunOptions& options);

// The invariants every run is judged on, in report order.
const std::vector<std::string>& InvariantNames();

}  // namespace duplex
