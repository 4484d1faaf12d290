#include "chaos/linearizability.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "chaos/checker.h"
#include "chaos/lin_models.h"

namespace duplex::lin {
namespace {

struct OpSpec {
  int client;
  std::string f, input, output;
  int64_t invoke, complete;
  Outcome outcome = Outcome::kOk;
  std::string key = "k";
};

Operation Op(const OpSpec& s) {
  Operation op;
  op.client = s.client;
  op.key = s.key;
  op.f = s.f;
  op.input = s.input;
  op.output = s.output;
  op.outcome = s.outcome;
  op.invoke_us = s.invoke;
  op.complete_us = s.complete;
  return op;
}

std::vector<Operation> Ops(std::initializer_list<OpSpec> specs) {
  std::vector<Operation> ops;
  for (const OpSpec& s : specs) ops.push_back(Op(s));
  return ops;
}

Verdict CasVerdict(std::initializer_list<OpSpec> specs) {
  return Check(ModelKind::kCasRegister, Ops(specs)).verdict;
}

constexpr Outcome kUnknown = Outcome::kUnknown;
constexpr Outcome kFail = Outcome::kFail;

TEST(CasRegister, ReadsWhatTheLastWriteWrote) {
  EXPECT_EQ(CasVerdict({{0, "write", "1", "", 0, 10}, {1, "read", "", "1", 20, 30}}),
            Verdict::kLinearizable);
  EXPECT_EQ(CasVerdict({{0, "read", "", "nil", 0, 10}, {0, "write", "1", "", 20, 30}}),
            Verdict::kLinearizable);
}

TEST(CasRegister, AStaleReadAfterACompletedWriteIsNotLinearizable) {
  EXPECT_EQ(CasVerdict({{0, "write", "1", "", 0, 10},
                        {0, "write", "2", "", 20, 30},
                        {1, "read", "", "1", 40, 50}}),
            Verdict::kNotLinearizable);
  EXPECT_EQ(CasVerdict({{0, "write", "1", "", 0, 10}, {1, "read", "", "nil", 20, 30}}),
            Verdict::kNotLinearizable);
}

TEST(CasRegister, OverlappingOperationsMayTakeEffectInEitherOrder) {
  // The read overlaps both writes: it may see either, but not a value never written.
  EXPECT_EQ(CasVerdict({{0, "write", "1", "", 0, 10},
                        {1, "write", "2", "", 5, 15},
                        {2, "read", "", "1", 1, 20}}),
            Verdict::kLinearizable);
  EXPECT_EQ(CasVerdict({{0, "write", "1", "", 0, 10}, {2, "read", "", "3", 1, 20}}),
            Verdict::kNotLinearizable);
  // Equal times: a return and a call at the same instant overlap (Porcupine's order).
  EXPECT_EQ(CasVerdict({{0, "write", "1", "", 0, 5}, {1, "read", "", "nil", 5, 10}}),
            Verdict::kLinearizable);
}

TEST(CasRegister, ACasSwapsOnlyFromItsExpectedValue) {
  EXPECT_EQ(CasVerdict({{0, "write", "1", "", 0, 10},
                        {0, "cas", "1 2", "ok", 20, 30},
                        {0, "read", "", "2", 40, 50}}),
            Verdict::kLinearizable);
  EXPECT_EQ(CasVerdict({{0, "write", "1", "", 0, 10}, {0, "cas", "3 2", "ok", 20, 30}}),
            Verdict::kNotLinearizable);
  // A failed compare observed another value: it cannot fail while the value was FROM.
  EXPECT_EQ(CasVerdict({{0, "write", "1", "", 0, 10}, {0, "cas", "1 2", "fail", 20, 30}}),
            Verdict::kNotLinearizable);
  EXPECT_EQ(CasVerdict({{0, "write", "1", "", 0, 10}, {0, "cas", "3 2", "fail", 20, 30}}),
            Verdict::kLinearizable);
}

TEST(CasRegister, AnUnknownWriteMayTakeEffectAnyTimeAfterItsInvokeOrNever) {
  // Timed out at 10, seen at 100: it took effect late.
  EXPECT_EQ(CasVerdict({{0, "write", "7", "", 0, 10, kUnknown},
                        {1, "read", "", "nil", 20, 30},
                        {1, "read", "", "7", 100, 110}}),
            Verdict::kLinearizable);
  // Never seen: it never took effect.
  EXPECT_EQ(CasVerdict({{0, "write", "7", "", 0, 10, kUnknown}, {1, "read", "", "nil", 20, 30}}),
            Verdict::kLinearizable);
  // But not before it was invoked.
  EXPECT_EQ(CasVerdict({{1, "read", "", "7", 0, 10}, {0, "write", "7", "", 20, 30, kUnknown}}),
            Verdict::kNotLinearizable);
  // Once taken effect it stays: 7 then nil again cannot be.
  EXPECT_EQ(CasVerdict({{0, "write", "7", "", 0, 10, kUnknown},
                        {1, "read", "", "7", 20, 30},
                        {1, "read", "", "nil", 40, 50}}),
            Verdict::kNotLinearizable);
}

TEST(CasRegister, AReadOfUnknownOutcomeConstrainsNothing) {
  const CheckResult result =
      Check(ModelKind::kCasRegister, Ops({{0, "write", "1", "", 0, 10},
                                          {1, "read", "", "", 20, 30, kUnknown},
                                          {1, "read", "", "1", 40, 50}}));
  EXPECT_EQ(result.verdict, Verdict::kLinearizable);
  EXPECT_EQ(result.operations, 3u);
}

TEST(CasRegister, AFailedOperationHadNoEffect) {
  EXPECT_EQ(CasVerdict({{0, "write", "7", "", 0, 10, kFail}, {1, "read", "", "7", 20, 30}}),
            Verdict::kNotLinearizable);
  EXPECT_EQ(CasVerdict({{0, "write", "7", "", 0, 10, kFail}, {1, "read", "", "nil", 20, 30}}),
            Verdict::kLinearizable);
}

TEST(KvAppend, AppendsInTheirLinearizationOrder) {
  auto verdict = [](std::initializer_list<OpSpec> specs) {
    return Check(ModelKind::kKvAppend, Ops(specs)).verdict;
  };
  EXPECT_EQ(verdict({{0, "get", "", "", 0, 1},
                     {0, "append", "a", "", 2, 3},
                     {1, "append", "b", "", 2, 5},
                     {0, "get", "", "ab", 6, 7}}),
            Verdict::kLinearizable);
  EXPECT_EQ(
      verdict(
          {{0, "append", "a", "", 0, 1}, {1, "append", "b", "", 2, 3}, {0, "get", "", "ba", 4, 5}}),
      Verdict::kNotLinearizable);
  EXPECT_EQ(verdict({{0, "put", "x", "", 0, 1},
                     {1, "append", "y", "", 2, 3, kUnknown},
                     {0, "get", "", "xy", 4, 5}}),
            Verdict::kLinearizable);
}

TEST(KvAppend, KeysAreCheckedApartAndTheFailingOneIsNamed) {
  const CheckResult result = Check(ModelKind::kKvAppend, Ops({{0, "put", "1", "", 0, 1, {}, "a"},
                                                              {1, "get", "", "1", 2, 3, {}, "b"},
                                                              {0, "get", "", "1", 2, 3, {}, "a"}}));
  EXPECT_EQ(result.verdict, Verdict::kNotLinearizable);
  EXPECT_EQ(result.keys, 2u);
  ASSERT_EQ(result.failed.size(), 1u);
  EXPECT_EQ(result.failed[0].key, "b");
}

Verdict KvVerdict(std::vector<Operation> ops) { return Check(ModelKind::kDuplexKv, ops).verdict; }

Operation Get(int client, int64_t invoke, int64_t complete, const char* value) {
  Operation op = Op({client, "GET", "", value ? value : "", invoke, complete});
  op.absent = value == nullptr;
  return op;
}

TEST(DuplexKv, GetPutDelAndIncrAsTheKvProcessorAnswers) {
  EXPECT_EQ(KvVerdict({Get(0, 0, 1, nullptr), Op({0, "PUT", "5", "OK", 2, 3}), Get(1, 4, 5, "5"),
                       Op({1, "INCR", "1", "6", 6, 7}), Op({0, "DEL", "", "1", 8, 9}),
                       Op({0, "DEL", "", "0", 10, 11}), Op({1, "INCR", "1", "1", 12, 13}),
                       Get(0, 14, 15, "1")}),
            Verdict::kLinearizable);
  // The deleted key read back: a stale read.
  EXPECT_EQ(KvVerdict({Op({0, "PUT", "5", "OK", 0, 1}), Op({0, "DEL", "", "1", 2, 3}),
                       Get(1, 4, 5, "5")}),
            Verdict::kNotLinearizable);
  // An INCR that skipped a number.
  EXPECT_EQ(KvVerdict({Op({0, "INCR", "1", "1", 0, 1}), Op({1, "INCR", "1", "3", 2, 3})}),
            Verdict::kNotLinearizable);
  // A DEL saying "1" on a key never written.
  EXPECT_EQ(KvVerdict({Op({0, "DEL", "", "1", 0, 1})}), Verdict::kNotLinearizable);
}

TEST(DuplexKv, AnUnknownIncrementMayExplainAJumpOnlyOnce) {
  EXPECT_EQ(KvVerdict({Op({0, "INCR", "1", "1", 0, 1}), Op({0, "INCR", "1", "", 2, 3, kUnknown}),
                       Op({1, "INCR", "1", "3", 4, 5})}),
            Verdict::kLinearizable);
  EXPECT_EQ(KvVerdict({Op({0, "INCR", "1", "1", 0, 1}), Op({0, "INCR", "1", "", 2, 3, kUnknown}),
                       Op({1, "INCR", "1", "4", 4, 5})}),
            Verdict::kNotLinearizable);
  // A refused INCR explains nothing.
  EXPECT_EQ(KvVerdict({Op({0, "INCR", "1", "1", 0, 1}), Op({0, "INCR", "1", "", 2, 3, kFail}),
                       Op({1, "INCR", "1", "3", 4, 5})}),
            Verdict::kNotLinearizable);
}

Operation WithNow(Operation op, int64_t now_ms) {
  op.now_ms = now_ms;
  return op;
}

TEST(DuplexKv, ExpiriesFollowTheRequestsNowMs) {
  // PUTEX at 1000 ms for 500 ms: live at 1200, gone at 1600.
  EXPECT_EQ(KvVerdict({WithNow(Op({0, "PUTEX", "v 500", "OK", 0, 1}), 1000),
                       WithNow(Op({0, "TTL", "", "300", 2, 3}), 1200),
                       WithNow(Get(1, 4, 5, "v"), 1200), WithNow(Get(1, 6, 7, nullptr), 1600)}),
            Verdict::kLinearizable);
  EXPECT_EQ(KvVerdict({WithNow(Op({0, "PUTEX", "v 500", "OK", 0, 1}), 1000),
                       WithNow(Get(1, 2, 3, "v"), 1600)}),
            Verdict::kNotLinearizable);
  EXPECT_EQ(KvVerdict({WithNow(Op({0, "PUTEX", "v 500", "OK", 0, 1}), 1000),
                       WithNow(Get(1, 2, 3, nullptr), 1200)}),
            Verdict::kNotLinearizable);
  // Without the read's time, live and expired are both possible.
  for (const char* value : {"v", static_cast<const char*>(nullptr)}) {
    EXPECT_EQ(
        KvVerdict({WithNow(Op({0, "PUTEX", "v 500", "OK", 0, 1}), 1000), Get(1, 2, 3, value)}),
        Verdict::kLinearizable);
  }
  // A PUT clears the expiry.
  EXPECT_EQ(KvVerdict({WithNow(Op({0, "PUTEX", "v 500", "OK", 0, 1}), 1000),
                       Op({0, "PUT", "w", "OK", 2, 3}), Get(1, 4, 5, "w"),
                       WithNow(Op({0, "TTL", "", "-1", 6, 7}), 9000)}),
            Verdict::kLinearizable);
}

// Writes all overlapping one another, then a read of a value none wrote: every order of
// the writes must be tried before the search gives up.
std::vector<Operation> HardHistory(int writes) {
  std::vector<Operation> ops;
  for (int i = 0; i < writes; ++i) {
    ops.push_back(Op({i, "write", std::to_string(i), "", i, 1000 + i}));
    ops.push_back(Op({i, "read", "", std::to_string(i), 2 * i + 1, 1100 + i}));
  }
  ops.push_back(Op({writes, "read", "", "none", 2000, 2001}));
  return ops;
}

TEST(Check, AHistoryNotDecidedInTimeIsUnknownNeverLinearizable) {
  const CheckResult result = Check(ModelKind::kCasRegister, HardHistory(40), {.time_limit_ms = 1});
  EXPECT_EQ(result.verdict, Verdict::kUnknown);
  ASSERT_EQ(result.unknown.size(), 1u);
  EXPECT_EQ(result.unknown[0].key, "k");
  EXPECT_EQ(result.unknown[0].operations, 81u);
  EXPECT_NE(result.unknown[0].detail.find("81 operations"), std::string::npos)
      << result.unknown[0].detail;
  EXPECT_TRUE(result.Explain().empty());
}

TEST(Check, ExplainShowsTheLongestOrderAndWhatCannotFollowIt) {
  std::vector<Operation> ops = Ops({{0, "write", "1", "", 0, 10},
                                    {1, "write", "2", "", 20, 30},
                                    {2, "read", "", "1", 40, 50},
                                    {2, "read", "", "2", 60, 70}});
  ops[2].line = 3;
  const CheckResult result = Check(ModelKind::kCasRegister, ops);
  ASSERT_EQ(result.verdict, Verdict::kNotLinearizable);
  ASSERT_EQ(result.failed.size(), 1u);
  const KeyResult& key = result.failed[0];
  ASSERT_EQ(key.prefix.size(), 2u);
  EXPECT_EQ(key.prefix[0].input, "1");
  EXPECT_EQ(key.prefix[1].input, "2");
  ASSERT_EQ(key.cannot_follow.size(), 1u);
  EXPECT_EQ(key.cannot_follow[0].output, "1");
  const std::string text = result.Explain();
  EXPECT_NE(text.find("key \"k\" is not linearizable (4 operations)"), std::string::npos) << text;
  EXPECT_NE(text.find("leaving the state 2"), std::string::npos) << text;
  EXPECT_NE(text.find("1. client 0: write 1 -> \"\"  [invoked 0, completed 10]"), std::string::npos)
      << text;
  EXPECT_NE(text.find("None of these can follow it:\n  - client 2: read -> \"1\"  [invoked 40, "
                      "completed 50] (line 3)"),
            std::string::npos)
      << text;
}

TEST(Check, ManyKeysOnTwoThreadsGiveTheSameVerdicts) {
  std::vector<Operation> ops;
  for (int key = 0; key < 50; ++key) {
    for (int i = 0; i < 60; ++i) {
      Operation op = Op({i % 4,
                         "append",
                         std::to_string(i),
                         "",
                         10 * i,
                         10 * i + 5,
                         {},
                         "k" + std::to_string(key)});
      ops.push_back(op);
    }
    // Key 17 reads what nobody wrote.
    ops.push_back(Op({9, "get", "", key == 17 ? "x" : "", -2, -1, {}, "k" + std::to_string(key)}));
  }
  const CheckResult two = Check(ModelKind::kKvAppend, ops, {.threads_max = 2});
  const CheckResult one = Check(ModelKind::kKvAppend, ops, {.threads_max = 1});
  EXPECT_EQ(two.verdict, Verdict::kNotLinearizable);
  EXPECT_EQ(one.verdict, Verdict::kNotLinearizable);
  ASSERT_EQ(two.failed.size(), 1u);
  EXPECT_EQ(two.failed[0].key, "k17");
  EXPECT_EQ(two.keys, 50u);
}

TEST(CheckLinearizable, ReadsTheWorkloadsRecords) {
  auto record = [](int client, const char* op, const char* value, OpOutcome outcome, int64_t invoke,
                   int64_t complete) {
    OpRecord r;
    r.client = client;
    r.op = op;
    r.key = "hot-0";
    r.value = value;
    r.outcome = outcome;
    r.invoke_us = invoke;
    r.complete_us = complete;
    r.hot = true;
    return r;
  };
  std::vector<OpRecord> history = {record(0, "PUT", "1000001", OpOutcome::kOk, 0, 10),
                                   record(1, "INCR", "1000002", OpOutcome::kOk, 20, 30),
                                   record(2, "INCR", "", OpOutcome::kInfo, 40, 50),
                                   record(0, "GET", "1000003", OpOutcome::kOk, 60, 70),
                                   record(1, "DEL", "1", OpOutcome::kOk, 80, 90)};
  EXPECT_EQ(CheckLinearizable(history, {}).verdict, Verdict::kLinearizable);
  OpRecord absent = record(2, "GET", "", OpOutcome::kOk, 100, 110);
  absent.absent = true;
  history.push_back(absent);
  EXPECT_EQ(CheckLinearizable(history, {}).verdict, Verdict::kLinearizable);
  // A read of the value before the DEL, after it: stale.
  history.push_back(record(2, "GET", "1000003", OpOutcome::kOk, 120, 130));
  const CheckResult result = CheckLinearizable(history, {});
  EXPECT_EQ(result.verdict, Verdict::kNotLinearizable);
  EXPECT_NE(result.Explain().find("GET -> \"1000003\""), std::string::npos) << result.Explain();
}

TEST(ModelNamed, NamesTheThreeModels) {
  for (ModelKind kind : {ModelKind::kCasRegister, ModelKind::kKvAppend, ModelKind::kDuplexKv}) {
    auto named = ModelNamed(ModelName(kind));
    ASSERT_TRUE(named.ok());
    EXPECT_EQ(*named, kind);
  }
  auto wrong = ModelNamed("register");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("cas-register, kv-append and duplex-kv"),
            std::string::npos);
}

}  // namespace
}  // namespace duplex::lin

namespace duplex::lin {
namespace {

// The search against brute force: every order of the operations that respects real time
// (an operation completed before another's invoke comes first), the unknown ones optionally
// left out at the end, stepped on the same model. Random small histories, most of them
// recorded from a real sequential run with a few outputs altered.
template <typename Model>
bool BruteForce(Model model, const std::vector<Operation>& history) {
  std::vector<const Operation*> ops;
  for (const Operation& op : history) {
    if (op.outcome != Outcome::kFail) ops.push_back(&op);
  }
  std::vector<typename Model::Input> inputs;
  for (const Operation* op : ops) inputs.push_back(model.Decode(*op));
  auto search = [&](auto& self, const typename Model::State& state, uint32_t used) -> bool {
    bool all_ok_used = true;
    for (size_t i = 0; i < ops.size(); ++i) {
      if (!(used >> i & 1) && ops[i]->outcome == Outcome::kOk) all_ok_used = false;
    }
    if (all_ok_used) return true;
    for (size_t i = 0; i < ops.size(); ++i) {
      if (used >> i & 1) continue;
      bool may_be_next = true;
      for (size_t j = 0; j < ops.size(); ++j) {
        if (j != i && !(used >> j & 1) && ops[j]->outcome == Outcome::kOk &&
            ops[j]->complete_us < ops[i]->invoke_us) {
          may_be_next = false;
        }
      }
      typename Model::State next;
      if (may_be_next && model.Step(state, inputs[i], &next) &&
          self(self, next, used | (1u << i))) {
        return true;
      }
    }
    return false;
  };
  return search(search, model.Init(), 0);
}

struct RandomHistory {
  std::mt19937 rng;
  int Below(int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); }

  // Operations with random intervals and outcomes; outputs from running them one by one in
  // a random order (set by `apply`), one in three histories with an output altered.
  template <typename Apply>
  std::vector<Operation> Make(Apply apply, const std::vector<std::string>& fs) {
    const int n = 1 + Below(7);
    std::vector<Operation> ops(n);
    for (int i = 0; i < n; ++i) {
      Operation& op = ops[i];
      op.client = i;
      op.key = "k";
      op.f = fs[Below(static_cast<int>(fs.size()))];
      op.invoke_us = Below(20);
      op.complete_us = op.invoke_us + Below(10);
      const int outcome = Below(10);
      op.outcome = outcome == 0 ? Outcome::kFail : outcome == 1 ? Outcome::kUnknown : Outcome::kOk;
    }
    std::vector<int> order(n);
    for (int i = 0; i < n; ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    apply(ops, order);
    if (Below(3) == 0) {
      Operation& op = ops[Below(n)];
      op.output = std::to_string(Below(3));
      op.absent = Below(2) == 0;
    }
    return ops;
  }
};

TEST(SearchAgainstBruteForce, CasRegisterVerdictsAgree) {
  RandomHistory random{std::mt19937(7)};
  int linearizable = 0;
  for (int round = 0; round < 4000; ++round) {
    auto ops = random.Make(
        [&](std::vector<Operation>& made, const std::vector<int>& order) {
          std::string value = "nil";
          for (int i : order) {
            Operation& op = made[i];
            const std::string a = std::to_string(random.Below(3)),
                              b = std::to_string(random.Below(3));
            if (op.f == "read") op.output = value;
            if (op.f == "write") op.input = a, value = a;
            if (op.f == "cas") {
              op.input = a + " " + b;
              op.output = value == a ? "ok" : "fail";
              if (value == a) value = b;
            }
          }
        },
        {"read", "write", "cas"});
    const bool expected = BruteForce(models::CasRegister{}, ops);
    linearizable += expected;
    const Verdict verdict = Check(ModelKind::kCasRegister, ops).verdict;
    ASSERT_EQ(verdict, expected ? Verdict::kLinearizable : Verdict::kNotLinearizable)
        << "round " << round;
  }
  // Both verdicts were exercised.
  EXPECT_GT(linearizable, 400);
  EXPECT_LT(linearizable, 3600);
}

TEST(SearchAgainstBruteForce, DuplexKvVerdictsAgree) {
  RandomHistory random{std::mt19937(11)};
  int linearizable = 0;
  for (int round = 0; round < 4000; ++round) {
    auto ops = random.Make(
        [&](std::vector<Operation>& made, const std::vector<int>& order) {
          std::optional<int64_t> value;
          for (int i : order) {
            Operation& op = made[i];
            if (op.f == "GET") {
              op.absent = !value;
              op.output = value ? std::to_string(*value) : "";
            } else if (op.f == "PUT") {
              op.input = std::to_string(random.Below(3));
              value = std::stoll(op.input);
            } else if (op.f == "DEL") {
              op.output = value ? "1" : "0";
              value.reset();
            } else {
              op.input = "1";
              value = value.value_or(0) + 1;
              op.output = std::to_string(*value);
            }
          }
        },
        {"GET", "PUT", "DEL", "INCR"});
    const bool expected = BruteForce(models::DuplexKv{}, ops);
    linearizable += expected;
    const Verdict verdict = Check(ModelKind::kDuplexKv, ops).verdict;
    ASSERT_EQ(verdict, expected ? Verdict::kLinearizable : Verdict::kNotLinearizable)
        << "round " << round;
  }
  EXPECT_GT(linearizable, 400);
  EXPECT_LT(linearizable, 3600);
}

}  // namespace
}  // namespace duplex::lin
