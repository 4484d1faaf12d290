// The host scenarios of the chaos catalogue (those with `hosts:`), each run once on a lab of
// its hosts under three writing clients and judged on every invariant: crash, freeze and
// isolation (both ways and one way) of the active's host, agents killed and restarted under
// load, rolling upgrades across the hosts. The lab's hosts are 127.0.11.1 onwards and its
// ports 17000-17999, apart from the lab's own tests (127.0.201.1) and from `duplex lab` at
// 127.0.1.1. Needs root (nftables); skipped otherwise. The sanitizer build runs only
// host-crash-active: .ci/run's `duplex chaos suite` runs them all again on the optimized build.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <set>

#include "chaos/scenario.h"
#include "tests/lab_scenario_run.h"

namespace duplex {
namespace {

constexpr int kLabFirstHost = 11;

// The ASan+UBSan build (CMakeLists' DUPLEX_SANITIZE: -fsanitize=address, for which GCC
// defines __SANITIZE_ADDRESS__) keeps one host fault under the sanitizers; the others
// add minutes to `make test` and are run twice on the optimized build already.
#ifdef __SANITIZE_ADDRESS__
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
constexpr const char* kSanitizedScenario = "host-crash-active";

// Names of the catalogue's scenarios with hosts, read when the tests are listed; those with
// etcd run in coordinator_scenarios_test.
std::vector<std::string> HostScenarioNames() {
  std::vector<std::string> names;
  auto all = LoadCatalogue(DUPLEX_SCENARIO_DIR);
  if (!all.ok()) return {"catalogue-does-not-load"};  // fails in the test, loudly
  for (const Scenario& s : *all) {
    if (s.hosts > 0 && !s.etcd) names.push_back(s.name);
  }
  return names;
}

TEST(HostCatalogue, HoldsEveryHostFaultTheIssueNames) {
  std::vector<std::string> names = HostScenarioNames();
  std::set<std::string> have(names.begin(), names.end());
  for (const char* required :
       {"host-crash-active", "host-freeze-active", "host-isolate-active", "host-isolate-active-out",
        "host-isolate-active-in", "agent-kill-under-load", "agent-restart-under-load",
        "upgrade-across-hosts", "upgrade-across-hosts-broken", "host-crash-during-reload",
        "host-isolate-random"}) {
    EXPECT_TRUE(have.contains(required)) << required;
  }
}

class HostScenario : public ::testing::TestWithParam<std::string> {};

TEST_P(HostScenario, PassesOnALab) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (nftables)";
  if (kSanitized && GetParam() != kSanitizedScenario) {
    GTEST_SKIP() << "the sanitizer build runs only " << kSanitizedScenario
                 << "; the optimized build and .ci/run's chaos suite run this one";
  }
  testing::LabRun run;
  testing::RunOnLab(GetParam(), kLabFirstHost, &run);
  if (HasFatalFailure()) return;
  const nlohmann::json& r = run.result;
  std::printf(
      "%-28s %s  wall %.1f s  failover_ms %s  lost %llu  double-applied %llu  "
      "gap_ms steady %.1f faults %.1f  outcome %s\n",
      GetParam().c_str(), r["verdict"].get<std::string>().c_str(), run.wall_s,
      r["failover_ms"].dump().c_str(),
      static_cast<unsigned long long>(run.Violations("lost-writes")),
      static_cast<unsigned long long>(run.Violations("double-applied")),
      r["gap_ms"].value("steady", 0.0), r["gap_ms"].value("faults", 0.0),
      r.value("outcome", "").c_str());
  testing::ExpectPassed(run);
}

INSTANTIATE_TEST_SUITE_P(Lab, HostScenario, ::testing::ValuesIn(HostScenarioNames()),
                         testing::TestNameOf);

}  // namespace
}  // namespace duplex
