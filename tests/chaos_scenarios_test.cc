// The fast subset of the chaos catalogue (chaos/scenarios/), run by `make test` in both
// builds: a failover, a partition that must not lead to promoting a stale standby,
// corruption on the replicas' link, a fault during an upgrade's evaluation — and two
// mutants the checker must catch; every link with CURVE. `duplex chaos suite` runs the whole
// catalogue.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "chaos/scenario.h"
#include "chaos/scenario_runner.h"
#include "tests/test_support.h"

namespace duplex {
namespace {

std::string BuildDir() {
  const char* env = std::getenv("DUPLEX_BUILD_DIR");
  return std::filesystem::absolute(env != nullptr ? env : "build").string();
}

class Catalogue : public ::testing::TestWithParam<const char*> {};

TEST_P(Catalogue, ScenarioPasses) {
  auto scenario = LoadScenario(std::string(DUPLEX_SCENARIO_DIR) + "/" + GetParam() + ".yaml");
  ASSERT_TRUE(scenario.ok()) << scenario.status().ToString();
  RunOptions options;
  options.seed = 7;
  options.build_dir = BuildDir();
  options.scratch = testing::ScratchDir();
  options.report_dir = options.scratch + "-report";
  auto run = RunScenario(*scenario, options);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ((*run)["verdict"], "pass")
      << (*run)["invariants"].dump(2) << "\nreplay: " << (*run)["replay"];
  // Every link ran sealed: the cluster's config has CURVE on, and no connection the fault
  // proxies carried (the replicas' link and their control links) chose NULL or PLAIN (one
  // closed before its greeting, by a kill or a partition, chose nothing).
  const auto& curve = (*run)["curve"];
  EXPECT_TRUE(curve.value("on", false)) << curve.dump();
  EXPECT_GT(curve.value("proxied_connections", 0), 0) << curve.dump();
  EXPECT_GT(curve.value("curve_connections", 0), 0) << curve.dump();
  EXPECT_EQ(curve.value("plain_connections", 0), 0)
      << "a link spoke without CURVE: " << curve.dump();
  EXPECT_TRUE(std::filesystem::exists(options.report_dir + "/report.html"));
  EXPECT_TRUE(std::filesystem::exists(options.report_dir + "/history.jsonl"));
  std::filesystem::remove_all(options.report_dir);
}

INSTANTIATE_TEST_SUITE_P(Chaos, Catalogue,
                         ::testing::Values("kill-active", "partition-then-kill-active",
                                           "corrupt-replica-link", "kill-active-during-evaluate",
                                           "mutant-skip-fsync", "mutant-ack-before-replication",
                                           "torn-coordinator-during-fallback"),
                         [](const auto& param_info) {
                           std::string name = param_info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace duplex
