#include "chaos/history_judgement.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>

namespace duplex {
namespace {

using nlohmann::json;

OpRecord Op(int client, const std::string& op, const std::string& key, const std::string& value,
            int64_t invoke_us, int64_t complete_us, OpOutcome outcome = OpOutcome::kOk) {
  OpRecord r;
  r.client = client;
  r.op = op;
  r.key = key;
  r.value = value;
  r.invoke_us = invoke_us;
  r.complete_us = complete_us;
  r.outcome = outcome;
  r.hot = key.find("hot") != std::string::npos;
  r.answered_by = 0;
  return r;
}

OpRecord Absent(int client, const std::string& key, int64_t invoke_us, int64_t complete_us) {
  OpRecord r = Op(client, "GET", key, "", invoke_us, complete_us);
  r.absent = true;
  return r;
}

// A deposed active answering a read after its lease: the GET returns the value an earlier
// PUT wrote, after a later PUT completed. Only a linearizability check can see it.
std::vector<OpRecord> StaleRead() {
  return {Op(0, "PUT", "w-hot-0", "1", 0, 10), Op(1, "PUT", "w-hot-0", "2", 20, 30),
          Op(2, "GET", "w-hot-0", "1", 40, 50)};
}

TEST(LinearizableVerdict, FailsOnAStaleReadAndDrawsTheFailingKey) {
  const lin::CheckResult result = CheckLinearizable(StaleRead(), {10000});
  ASSERT_EQ(result.verdict, lin::Verdict::kNotLinearizable);
  const std::vector<std::string> violations = LinearizableViolations(result, 10000);
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_NE(violations[0].find("w-hot-0"), std::string::npos) << violations[0];
  const json facts = LinearizabilityJson(result, 0);
  EXPECT_EQ(facts["verdict"], "not linearizable");
  ASSERT_TRUE(facts.contains("failed_key"));
  EXPECT_EQ(facts["failed_key"]["key"], "w-hot-0");
  EXPECT_FALSE(facts["failed_key"]["cannot_follow"].empty());
  EXPECT_EQ(facts["failed_key"]["operations"], 3);
}

TEST(LinearizableVerdict, PassesWhenEveryReadSeesTheLatestWrite) {
  std::vector<OpRecord> history = StaleRead();
  history[2].value = "2";
  history.push_back(Op(0, "DEL", "w-hot-0", "1", 60, 70));
  history.push_back(Absent(1, "w-hot-0", 80, 90));
  history.push_back(Op(2, "INCR", "w-hot-0", "1", 100, 110));
  const lin::CheckResult result = CheckLinearizable(history, {10000});
  EXPECT_EQ(result.verdict, lin::Verdict::kLinearizable) << result.Explain();
  EXPECT_TRUE(LinearizableViolations(result, 10000).empty());
}

TEST(LinearizableVerdict, AnUndecidedHistoryNamesTheKeyAndItsOperationCount) {
  lin::CheckResult result;
  result.verdict = lin::Verdict::kUnknown;
  lin::KeyResult key;
  key.key = "w-hot-1";
  key.verdict = lin::Verdict::kUnknown;
  key.operations = 4321;
  result.unknown.push_back(key);
  const std::vector<std::string> violations = LinearizableViolations(result, 250);
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0], "key w-hot-1: 4321 operations not decided within 250 ms");
}

TEST(LinearizableVerdict, AsyncModeJudgesTheHistoryBeforeTheFirstFault) {
  // The stale read comes after the cut: async mode does not promise it away.
  std::vector<OpRecord> history = StaleRead();
  history.push_back(Op(0, "PUT", "w-hot-0", "3", 35, 60));  // open at the cut: unknown
  const std::vector<OpRecord> before = HistoryBefore(history, 38);
  ASSERT_EQ(before.size(), 3u);
  EXPECT_EQ(before[2].outcome, OpOutcome::kInfo);
  EXPECT_EQ(CheckLinearizable(before, {10000}).verdict, lin::Verdict::kLinearizable);
  EXPECT_EQ(CheckLinearizable(HistoryBefore(history, 45), {10000}).verdict,
            lin::Verdict::kLinearizable);  // the GET is open at the cut: its answer is not judged
}

TEST(HistoryLines, WritesInvokesWithArgsAndCompletionsInTimeOrder) {
  std::vector<OpRecord> history = {Op(0, "PUT", "k", "v1", 100, 300),
                                   Op(1, "INCR", "c", "5", 150, 200), Absent(2, "k", 160, 170)};
  history[0].request_seq = 7;
  history[0].attempts = 2;
  const std::vector<json> lines = HistoryLines(history, 100);
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[0].dump(),
            R"({"args":["v1"],"client":0,"key":"k","op":"PUT","seq":7,"t_us":0,"type":"invoke"})");
  EXPECT_EQ(lines[1]["args"], json::array({"1"}));
  EXPECT_EQ(lines[2]["args"], json::array());
  EXPECT_EQ(lines[3]["type"], "ok");
  EXPECT_EQ(lines[3]["absent"], true);
  EXPECT_EQ(lines[4]["value"], "5");
  EXPECT_EQ(lines[5]["attempts"], 2);
  EXPECT_FALSE(lines[5].contains("value"));  // the PUT's value is its argument
  EXPECT_EQ(lines[5]["t_us"], 200);
  for (size_t i = 1; i < lines.size(); ++i) EXPECT_LE(lines[i - 1]["t_us"], lines[i]["t_us"]);
}

std::vector<json> Events() {
  return {
      {{"kind", "cluster"}, {"epoch", 1}, {"active", "a"}, {"t_us", 10}},
      {{"kind", "replica"}, {"replica", "a"}, {"t_us", 20}},
      {{"kind", "replica"}, {"replica", "a"}, {"alive", false}, {"applied_seq", 57}, {"t_us", 900}},
      {{"kind", "replica"},
       {"replica", "b"},
       {"role", "Active/Solo"},
       {"epoch", 2},
       {"applied_seq", 52},
       {"t_us", 1150}},
      {{"kind", "cluster"}, {"epoch", 2}, {"active", ""}, {"t_us", 1000}},
      {{"kind", "cluster"}, {"epoch", 2}, {"active", "b"}, {"t_us", 1100}},
      {{"kind", "cluster"}, {"epoch", 2}, {"active", "b"}, {"t_us", 1200}},
      {{"kind", "replica"},
       {"replica", "a"},
       {"role", "OutOfService"},
       {"epoch", 1},
       {"applied_seq", 60},
       {"t_us", 1300}}};
}

TEST(FailoversOf, NamesEachChangeOfActive) {
  const std::vector<ActiveChange> changes = FailoversOf(Events(), {"a", "b"});
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].t_us, 1100);
  EXPECT_EQ(changes[0].from, 0);
  EXPECT_EQ(changes[0].to, 1);
  EXPECT_EQ(changes[0].epoch, 2u);
  EXPECT_EQ(changes[0].active_seq, 60);  // what a kept, reported when it came back
  EXPECT_EQ(changes[0].promoted_seq, 52);
  EXPECT_EQ(changes[0].ReportedTail(), 8);
}

// The final state as a map; absent keys read as nullopt.
ReadValue Final(std::map<std::string, std::string> state) {
  return [state](const std::string& key) -> std::optional<std::string> {
    auto it = state.find(key);
    if (it == state.end()) return std::nullopt;
    return it->second;
  };
}

// Client 0 writes p0..p3 through a (index 0), b takes over at 1100 us; client 1 increments.
std::vector<OpRecord> AsyncHistory() {
  std::vector<OpRecord> h = {
      Op(0, "PUT", "p0", "v", 100, 200),   Op(0, "PUT", "p1", "v", 300, 400),
      Op(0, "PUT", "p2", "v", 500, 600),   Op(0, "PUT", "p3", "v", 700, 800),
      Op(1, "INCR", "c1", "1", 100, 200),  Op(1, "INCR", "c1", "2", 300, 700),
      Op(1, "INCR", "c1", "2", 1200, 1300)};
  h.back().answered_by = 1;
  return h;
}

TEST(AsyncLoss, ATailWithinTheLagBoundIsAllowedAndCountedPerFailover) {
  // The standby had p0, p1 and the first increment: p2, p3 and the second increment are lost.
  const AsyncLoss loss =
      CheckAsyncLoss(AsyncHistory(), Final({{"p0", "v"}, {"p1", "v"}, {"c1", "2"}}),
                     FailoversOf(Events(), {"a", "b"}), 3);
  EXPECT_TRUE(loss.problems.empty()) << loss.problems[0];
  ASSERT_EQ(loss.failovers.size(), 1u);
  EXPECT_EQ(loss.failovers[0].lost_puts, 2u);
  EXPECT_EQ(loss.failovers[0].lost_incrs, 1u);
  EXPECT_EQ(loss.lost, 3u);
  const json j = loss.ToJson(0, 3);
  EXPECT_EQ(j["failovers"][0]["lost"], 3);
  EXPECT_EQ(j["failovers"][0]["from"], "a");
}

TEST(AsyncLoss, MoreThanTheLagBoundFails) {
  const AsyncLoss loss =
      CheckAsyncLoss(AsyncHistory(), Final({{"p0", "v"}, {"p1", "v"}, {"c1", "2"}}),
                     FailoversOf(Events(), {"a", "b"}), 2);
  ASSERT_EQ(loss.problems.size(), 1u);
  EXPECT_NE(loss.problems[0].find("more than the lag bound 2"), std::string::npos)
      << loss.problems[0];
}

TEST(AsyncLoss, ALostWriteBeforeOneThatSurvivedFails) {
  // p1 is gone but p2, sent after p1 was acknowledged, survived: the standby had p1 too.
  const AsyncLoss loss =
      CheckAsyncLoss(AsyncHistory(), Final({{"p0", "v"}, {"p2", "v"}, {"p3", "v"}, {"c1", "3"}}),
                     FailoversOf(Events(), {"a", "b"}), 100);
  ASSERT_EQ(loss.problems.size(), 1u);
  EXPECT_NE(loss.problems[0].find("PUT p1=v"), std::string::npos) << loss.problems[0];
}

TEST(AsyncLoss, MoreThanTheTailTheReplicasReportedFails) {
  std::vector<ActiveChange> changes = FailoversOf(Events(), {"a", "b"});
  changes[0].promoted_seq = 58;  // a kept 60: only two deltas were missing from b
  const AsyncLoss loss =
      CheckAsyncLoss(AsyncHistory(), Final({{"p0", "v"}, {"p1", "v"}, {"c1", "2"}}), changes, 100);
  ASSERT_EQ(loss.problems.size(), 1u);
  EXPECT_NE(loss.problems[0].find("more than the tail the replicas reported (a had committed "
                                  "seq 60, b was promoted at seq 58)"),
            std::string::npos)
      << loss.problems[0];
}

TEST(AsyncLoss, ALossWithoutAFailoverFails) {
  const AsyncLoss loss = CheckAsyncLoss(
      AsyncHistory(), Final({{"p0", "v"}, {"p1", "v"}, {"p2", "v"}, {"c1", "3"}}), {}, 100);
  ASSERT_EQ(loss.problems.size(), 2u);  // p3, and the increment whose value came back
  EXPECT_NE(loss.problems[0].find("PUT p3=v"), std::string::npos) << loss.problems[0];
  EXPECT_NE(loss.problems[1].find("no failover followed it"), std::string::npos);
}

TEST(CheckHistory, LeavesHotKeysToTheLinearizabilityChecker) {
  // A hot PUT overwritten by another client and a hot GET answered "not found" are no lost
  // or phantom writes: only the linearizability checker judges the shared keys.
  std::vector<OpRecord> history = {Op(0, "PUT", "w-hot-0", "1000000", 0, 10),
                                   Absent(1, "w-hot-1", 20, 30),
                                   Op(2, "PUT", "w-hot-2", "7", 40, 50, OpOutcome::kFail)};
  const CheckResult result = CheckHistory(history, Final({{"w-hot-2", "7"}}), 10);
  EXPECT_TRUE(result.Clean());
  EXPECT_TRUE(result.problems.empty());
  EXPECT_EQ(result.ok, 2u);
  EXPECT_EQ(result.fail, 1u);
}

}  // namespace
}  // namespace duplex
