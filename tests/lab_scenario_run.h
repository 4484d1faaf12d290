// One catalogue scenario run once on a lab, as hosts_test and coordinator_scenarios_test run
// theirs: seed 1, three writing clients, the cluster's ports in 17000-17999, the report kept
// only when the run fails (its replay command printed). Header-only; from a test's thread.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "chaos/scenario.h"
#include "chaos/scenario_runner.h"
#include "tests/test_support.h"

namespace duplex::testing {

inline constexpr int kLabPortFirst = 17000;
inline constexpr int kLabPortLast = 17999;

struct LabRun {
  RunOptions options;
  nlohmann::json result;  // RunScenario's JSON
  double wall_s = 0;

  uint64_t Violations(const std::string& invariant) const {
    for (const auto& i : result["invariants"]) {
      if (i.value("name", "") == invariant) return i.value("violations", uint64_t{0});
    }
    return 0;
  }
};

// Runs the catalogue's `name` on hosts 127.0.<lab_first_host>.1 onwards; a fatal failure when
// it could not run at all (the caller returns on HasFatalFailure()).
inline void RunOnLab(const std::string& name, int lab_first_host, LabRun* run) {
  auto scenario = LoadScenario(std::string(DUPLEX_SCENARIO_DIR) + "/" + name + ".yaml");
  ASSERT_TRUE(scenario.ok()) << scenario.status().ToString();
  scenario->clients = 3;
  const char* build_dir = std::getenv("DUPLEX_BUILD_DIR");
  run->options.seed = 1;
  run->options.build_dir =
      std::filesystem::absolute(build_dir != nullptr ? build_dir : "build").string();
  run->options.scratch = ScratchDir();
  run->options.report_dir = run->options.scratch + "-report";
  run->options.lab_first_host = lab_first_host;
  run->options.port_first = kLabPortFirst;
  run->options.port_last = kLabPortLast;
  const auto start = std::chrono::steady_clock::now();
  auto result = RunScenario(*scenario, run->options);
  run->wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  run->result = std::move(*result);
}

// Expects the verdict "pass"; on a failure says why and how to replay it and keeps the report,
// else removes the run's directories.
inline void ExpectPassed(const LabRun& run) {
  const nlohmann::json& r = run.result;
  EXPECT_EQ(r["verdict"], "pass") << r["invariants"].dump(2) << "\nfaults: " << r["faults"].dump()
                                  << "\nreplay: " << r["replay"] << " --lab-first-host "
                                  << run.options.lab_first_host << " --lab-ports " << kLabPortFirst
                                  << "-" << kLabPortLast << "\nreport: " << run.options.report_dir;
  if (::testing::Test::HasFailure()) return;  // the report stays for whoever reads the failure
  std::error_code ec;
  std::filesystem::remove_all(run.options.report_dir, ec);
  std::filesystem::remove_all(run.options.scratch, ec);
}

// "host-crash-active" -> "host_crash_active": a scenario's name as a test's.
inline std::string TestNameOf(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

}  // namespace duplex::testing
