// A fast subset of the coordinator scenarios of the chaos catalogue (those with `etcd: true`):
// the acting coordinator killed, frozen, the etcd quorum lost and the leader killed in Soak,
// each run once on a lab of three hosts (each with an etcd member, a coordinator and an agent)
// under three writing clients and judged on every invariant, among them one acting coordinator
// per term. `make test` runs this twice (optimized and under ASan); .ci/run then runs the whole
// catalogue, all ten etcd scenarios included, with `duplex chaos suite` on the optimized build.
// Hosts 127.0.14.1 onwards, ports 17000-17999 (etcd's included). Needs root (nftables) and
// /usr/bin/etcd; skipped otherwise.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>

#include "chaos/scenario.h"
#include "chaos/scenario_runner.h"
#include "tests/test_support.h"

namespace duplex {
namespace {

constexpr int kLabFirstHost = 14;
constexpr int kPortFirst = 17000;
constexpr int kPortLast = 17999;

std::string BuildDir() {
  const char* env = std::getenv("DUPLEX_BUILD_DIR");
  return std::filesystem::absolute(env != nullptr ? env : "build").string();
}

std::vector<std::string> EtcdScenarioNames() {
  std::vector<std::string> names;
  auto all = LoadCatalogue(DUPLEX_SCENARIO_DIR);
  if (!all.ok()) return {"catalogue-does-not-load"};  // fails in the test, loudly
  for (const Scenario& s : *all) {
    if (s.etcd) names.push_back(s.name);
  }
  return names;
}

TEST(CoordinatorCatalogue, HoldsEveryCoordinatorFaultTheIssueNames) {
  std::vector<std::string> names = EtcdScenarioNames();
  std::set<std::string> have(names.begin(), names.end());
  for (const char* required :
       {"coordinator-leader-kill", "coordinator-leader-freeze", "coordinator-isolate-etcd",
        "coordinator-isolate-replicas", "etcd-member-kill", "etcd-quorum-loss",
        "coordinator-leader-kill-during-soak", "coordinator-leader-kill-during-switch",
        "coordinator-leader-kill-during-finalize",
        "coordinator-leader-kill-then-active-host-crash"}) {
    EXPECT_TRUE(have.contains(required)) << required;
  }
}

// The subset run here: one fault on the leader of each kind (dies, stops), etcd itself losing
// its quorum, and a leader dying mid-campaign. The other six run in `duplex chaos suite`.
const std::vector<std::string>& FastSubset() {
  static const std::vector<std::string> names = {"coordinator-leader-kill",
                                                 "coordinator-leader-freeze", "etcd-quorum-loss",
                                                 "coordinator-leader-kill-during-soak"};
  return names;
}

TEST(CoordinatorCatalogue, HoldsTheFastSubset) {
  std::vector<std::string> names = EtcdScenarioNames();
  std::set<std::string> have(names.begin(), names.end());
  for (const std::string& name : FastSubset()) EXPECT_TRUE(have.contains(name)) << name;
}

class CoordinatorScenario : public ::testing::TestWithParam<std::string> {};

TEST_P(CoordinatorScenario, PassesOnALabWithEtcd) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (nftables)";
  if (::access("/usr/bin/etcd", X_OK) != 0) GTEST_SKIP() << "needs /usr/bin/etcd";
  auto scenario = LoadScenario(std::string(DUPLEX_SCENARIO_DIR) + "/" + GetParam() + ".yaml");
  ASSERT_TRUE(scenario.ok()) << scenario.status().ToString();
  scenario->clients = 3;
  RunOptions options;
  options.seed = 1;
  options.build_dir = BuildDir();
  options.scratch = testing::ScratchDir();
  options.report_dir = options.scratch + "-report";
  options.lab_first_host = kLabFirstHost;
  options.port_first = kPortFirst;
  options.port_last = kPortLast;
  const auto start = std::chrono::steady_clock::now();
  auto run = RunScenario(*scenario, options);
  const double wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  auto violations = [&](const std::string& name) {
    for (const auto& i : (*run)["invariants"]) {
      if (i.value("name", "") == name) return i.value("violations", uint64_t{0});
    }
    return uint64_t{0};
  };
  std::printf(
      "%-46s %s  wall %.1f s  leader_failover %s  leadership changes %d  failover_ms %s  lost "
      "%llu  double-applied %llu  terms %llu  gap_ms steady %.1f faults %.1f  outcome %s%s\n",
      GetParam().c_str(), (*run)["verdict"].get<std::string>().c_str(), wall_s,
      (*run)["leader_failover_ms"].dump().c_str(), (*run).value("leadership_changes", 0),
      (*run)["failover_ms"].dump().c_str(),
      static_cast<unsigned long long>(violations("lost-writes")),
      static_cast<unsigned long long>(violations("double-applied")),
      static_cast<unsigned long long>(violations("one-acting-coordinator-per-term")),
      (*run)["gap_ms"].value("steady", 0.0), (*run)["gap_ms"].value("faults", 0.0),
      (*run).value("outcome", "").c_str(),
      // A campaign that rolled back before the fault's step tested less: said, not failed.
      (*run)["faults_not_fired"].empty()
          ? ""
          : ("  NOT FIRED " + (*run)["faults_not_fired"].dump()).c_str());
  EXPECT_EQ((*run)["verdict"], "pass")
      << (*run)["invariants"].dump(2) << "\nfaults: " << (*run)["faults"].dump()
      << "\nreplay: " << (*run)["replay"] << " --lab-first-host " << kLabFirstHost
      << " --lab-ports " << kPortFirst << "-" << kPortLast << "\nreport: " << options.report_dir;
  if (::testing::Test::HasFailure()) return;  // the report stays for whoever reads the failure
  std::error_code ec;
  std::filesystem::remove_all(options.report_dir, ec);
  std::filesystem::remove_all(options.scratch, ec);
}

INSTANTIATE_TEST_SUITE_P(Lab, CoordinatorScenario, ::testing::ValuesIn(FastSubset()),
                         [](const auto& param_info) {
                           std::string name = param_info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace duplex
