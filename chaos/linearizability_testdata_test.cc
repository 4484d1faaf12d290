// The checker against histories and verdicts nobody in this project produced
// (tests/testdata/linearizability/README.md): Jepsen's etcd logs with Porcupine's verdicts, and
// Porcupine's key-value histories named -ok and -bad. Every verdict must match; the times are
// printed (the target: the whole set under 10 s, none over 2 s, in an optimized build).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>

#include "chaos/history_formats.h"
#include "chaos/linearizability.h"

namespace duplex::lin {
namespace {

namespace fs = std::filesystem;

const fs::path kDir = DUPLEX_LIN_TESTDATA_DIR;

struct Case {
  fs::path file;
  ModelKind model;
  Verdict expected;
};

std::vector<Case> Cases() {
  std::vector<Case> cases;
  std::ifstream verdicts(kDir / "jepsen-etcd" / "VERDICTS.tsv");
  std::string line;
  while (std::getline(verdicts, line)) {
    const size_t tab = line.find('\t');
    if (tab == std::string::npos) continue;
    const std::string verdict = line.substr(tab + 1);
    EXPECT_TRUE(verdict == "linearizable" || verdict == "not-linearizable") << line;
    cases.push_back(
        {kDir / "jepsen-etcd" / line.substr(0, tab), ModelKind::kCasRegister,
         verdict == "linearizable" ? Verdict::kLinearizable : Verdict::kNotLinearizable});
  }
  for (const auto& entry : fs::directory_iterator(kDir / "kv")) {
    const std::string name = entry.path().filename().string();
    const bool ok = name.ends_with("-ok.txt"), bad = name.ends_with("-bad.txt");
    EXPECT_TRUE(ok || bad) << name << " says neither -ok nor -bad";
    cases.push_back({entry.path(), ModelKind::kKvAppend,
                     ok ? Verdict::kLinearizable : Verdict::kNotLinearizable});
  }
  std::sort(cases.begin(), cases.end(),
            [](const Case& a, const Case& b) { return a.file < b.file; });
  return cases;
}

TEST(LinearizabilityTestdata, EveryOutsideHistoryGetsItsListedVerdict) {
  const std::vector<Case> cases = Cases();
  // 70 Jepsen logs (every one VERDICTS.tsv lists) and 4 Porcupine kv histories.
  ASSERT_EQ(cases.size(), 74u);
  size_t logs = 0;
  for (const auto& entry : fs::directory_iterator(kDir / "jepsen-etcd")) {
    logs += entry.path().extension() == ".log";
  }
  EXPECT_EQ(logs, 70u) << "a log without a verdict in VERDICTS.tsv, or a verdict without a log";

  double total_ms = 0, slowest_ms = 0;
  std::string slowest;
  std::map<Verdict, int> counts;
  for (const Case& c : cases) {
    auto history = ReadHistoryFile(c.model, c.file.string());
    ASSERT_TRUE(history.ok()) << history.status().message();
    ASSERT_FALSE(history->empty()) << c.file;
    const auto start = std::chrono::steady_clock::now();
    const CheckResult result = Check(c.model, *history, {.time_limit_ms = 60000});
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    total_ms += ms;
    if (ms > slowest_ms) slowest_ms = ms, slowest = c.file.filename().string();
    EXPECT_EQ(VerdictName(result.verdict), std::string(VerdictName(c.expected)))
        << c.file << " (" << history->size() << " operations)";
    if (c.expected == Verdict::kNotLinearizable && result.verdict == c.expected) {
      EXPECT_FALSE(result.Explain().empty()) << c.file;
    }
    counts[result.verdict]++;
  }
  std::cout << "linearizability testdata: " << cases.size() << " histories ("
            << counts[Verdict::kLinearizable] << " linearizable, "
            << counts[Verdict::kNotLinearizable] << " not) checked in " << total_ms
            << " ms; the slowest, " << slowest << ", in " << slowest_ms << " ms\n";
}

}  // namespace
}  // namespace duplex::lin
