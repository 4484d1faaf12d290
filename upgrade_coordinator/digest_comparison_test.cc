#include "upgrade_coordinator/digest_comparison.h"

#include <gtest/gtest.h>

namespace duplex {
namespace {

using Question = DigestComparison::Question;

Response Ok(const std::string& value) { return {Code::kOk, "", value}; }

std::string Show(const Question& q) {
  std::string out = std::to_string(q.replica) + " " + q.op;
  for (const auto& a : q.args) out += " " + a;
  return out;
}

std::vector<std::string> Shown(const std::vector<Question>& qs) {
  std::vector<std::string> out;
  for (const auto& q : qs) out.push_back(Show(q));
  return out;
}

// The question to `replica` among `qs`.
Question To(const std::vector<Question>& qs, size_t replica) {
  for (const auto& q : qs) {
    if (q.replica == replica) return q;
  }
  ADD_FAILURE() << "no question to replica " << replica;
  return {};
}

TEST(DigestComparison, MarksTheActiveThenReadsBothDigestsAtTheMarkedSeqWithoutHolding) {
  DigestComparison c(/*active=*/1, /*schema=*/1, /*marks=*/true);
  auto qs = c.Next(0);
  EXPECT_EQ(Shown(qs), std::vector<std::string>{"1 _digest_mark 1"});
  EXPECT_FALSE(c.holding());
  EXPECT_TRUE(c.Next(1).empty());  // awaiting the answer
  c.OnAnswer(qs[0], Ok("t7 42"), 1);
  qs = c.Next(1);
  EXPECT_EQ(Shown(qs), (std::vector<std::string>{"0 _digest_at 42 1", "1 _digest_of t7"}));
  c.OnAnswer(To(qs, 0), Ok("abc"), 2);
  EXPECT_FALSE(c.verdict());
  c.OnAnswer(To(qs, 1), Ok("abc"), 2);
  ASSERT_TRUE(c.verdict());
  EXPECT_TRUE(c.verdict()->ok());
  EXPECT_FALSE(c.holding());
}

TEST(DigestComparison, DifferentDigestsNameTheSeqAndBothValuesActiveFirst) {
  DigestComparison c(0, 1, true);
  auto qs = c.Next(0);
  c.OnAnswer(qs[0], Ok("t1 42"), 0);
  qs = c.Next(0);
  c.OnAnswer(To(qs, 1), Ok("standby's"), 1);
  c.OnAnswer(To(qs, 0), Ok("active's"), 1);
  ASSERT_TRUE(c.verdict());
  EXPECT_EQ(c.verdict()->code(), Code::kCorruption);
  EXPECT_EQ(c.verdict()->message(), "state digests differ at seq 42: active's vs standby's");
}

TEST(DigestComparison, AStandbyShortOfTheMarkIsAskedAgainAndOneThatMissedItGetsANewMark) {
  DigestComparison c(0, 2, true);
  auto mark = c.Next(0);
  c.OnAnswer(mark[0], Ok("t1 42"), 0);
  auto qs = c.Next(0);
  Question at = To(qs, 1);
  c.OnAnswer(at, Response{Code::kUnavailable, "not applied yet (at seq 40)", ""}, 1);
  EXPECT_TRUE(c.Next(2).empty());
  EXPECT_EQ(c.wake_ms(), 3);
  EXPECT_EQ(Shown(c.Next(3)), std::vector<std::string>{"1 _digest_at 42 2"});
  c.OnAnswer(at, Response{Code::kNotFound, "no digest mark met there (at seq 43)", ""}, 4);
  EXPECT_FALSE(c.Awaits(To(qs, 0)));  // the active's digest of that attempt is moot now
  EXPECT_TRUE(c.Next(5).empty());     // a pause before marking again
  auto again = c.Next(4 + DigestComparison::kRemarkMs);
  EXPECT_EQ(Shown(again), std::vector<std::string>{"0 _digest_mark 2"});
  // Answers to the first attempt's questions are stale now.
  c.OnAnswer(To(qs, 0), Ok("old"), 30);
  c.OnAnswer(again[0], Ok("t2 50"), 30);
  qs = c.Next(30);
  EXPECT_EQ(Shown(qs), (std::vector<std::string>{"1 _digest_at 50 2", "0 _digest_of t2"}));
  c.OnAnswer(To(qs, 0), Ok("d"), 31);
  c.OnAnswer(To(qs, 1), Ok("d"), 31);
  ASSERT_TRUE(c.verdict());
  EXPECT_TRUE(c.verdict()->ok()) << c.verdict()->ToString();
}

TEST(DigestComparison, AnAnswerThatNeverComesStartsTheAttemptOverAndTheFirstAnswerWins) {
  DigestComparison c(0, 1, true);
  auto first = c.Next(0);
  EXPECT_EQ(c.wake_ms(), DigestComparison::kAnswerTimeoutMs);
  EXPECT_TRUE(c.Next(DigestComparison::kAnswerTimeoutMs - 1).empty());
  EXPECT_TRUE(c.Next(DigestComparison::kAnswerTimeoutMs).empty());  // given up
  int64_t t = DigestComparison::kAnswerTimeoutMs + DigestComparison::kRemarkMs;
  auto second = c.Next(t);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].attempt, first[0].attempt + 1);
  c.OnAnswer(first[0], Ok("late 1"), t);  // the lost answer turns up: ignored
  c.OnAnswer(second[0], Ok("t2 9"), t);
  auto qs = c.Next(t);
  c.OnAnswer(To(qs, 1), Ok("x"), t);
  c.OnAnswer(To(qs, 1), Ok("y"), t);  // a duplicate
  c.OnAnswer(To(qs, 0), Ok("x"), t);
  ASSERT_TRUE(c.verdict());
  EXPECT_TRUE(c.verdict()->ok());
}

TEST(DigestComparison, AReplicaThatFailsOrCannotBeReachedEndsIt) {
  DigestComparison unreachable(0, 1, true);
  auto qs = unreachable.Next(0);
  unreachable.OnAnswer(qs[0], Unavailable("timeout"), 1);
  ASSERT_TRUE(unreachable.verdict());
  EXPECT_EQ(unreachable.verdict()->message(), "digest mark: a replica does not answer");

  DigestComparison failing(0, 1, true);
  qs = failing.Next(0);
  failing.OnAnswer(qs[0], Ok("t 1"), 0);
  qs = failing.Next(0);
  failing.OnAnswer(To(qs, 0), Response{Code::kNotFound, "no open digest t", ""}, 1);
  ASSERT_TRUE(failing.verdict());
  EXPECT_EQ(failing.verdict()->code(), Code::kNotFound);
  EXPECT_EQ(failing.verdict()->message(), "digest: no open digest t");
}

TEST(DigestComparison, AnActiveThatCannotMarkIsAskedAgainUntilTheAttemptsRunOut) {
  DigestComparison c(0, 1, true);
  int64_t t = 0;
  for (int i = 0; i < DigestComparison::kMaxMarks; ++i, t += DigestComparison::kRemarkMs) {
    auto qs = c.Next(t);
    ASSERT_EQ(qs.size(), 1u) << i;
    c.OnAnswer(qs[0], Response{Code::kUnavailable, "no standby follows", ""}, t);
  }
  EXPECT_TRUE(c.Next(t).empty());
  ASSERT_TRUE(c.verdict());
  EXPECT_EQ(c.verdict()->code(), Code::kUnavailable);
  EXPECT_EQ(c.verdict()->message(), "digests never compared at one seq: no standby follows");
}

TEST(DigestComparison, WithoutMarksWritesAreHeldUntilBothSnapshotsOpenAtOneSeq) {
  DigestComparison c(1, 1, /*marks=*/false);
  auto qs = c.Next(0);
  EXPECT_EQ(Shown(qs), (std::vector<std::string>{"0 _digest_open 1", "1 _digest_open 1"}));
  EXPECT_TRUE(c.holding());
  c.OnAnswer(To(qs, 0), Ok("a1 9"), 1);
  c.OnAnswer(To(qs, 1), Ok("b1 10"), 1);  // the hold was not applied yet
  EXPECT_TRUE(c.holding());               // still held while it tries again
  EXPECT_TRUE(c.Next(2).empty());
  qs = c.Next(1 + DigestComparison::kReaskMs);
  ASSERT_EQ(qs.size(), 2u);
  c.OnAnswer(To(qs, 1), Ok("b2 11"), 4);
  c.OnAnswer(To(qs, 0), Ok("a2 11"), 4);
  EXPECT_FALSE(c.holding());  // both open at 11: writes go on while digests are read
  qs = c.Next(4);
  EXPECT_EQ(Shown(qs), (std::vector<std::string>{"0 _digest_of a2", "1 _digest_of b2"}));
  c.OnAnswer(To(qs, 0), Ok("same"), 5);
  c.OnAnswer(To(qs, 1), Ok("other"), 5);
  ASSERT_TRUE(c.verdict());
  EXPECT_EQ(c.verdict()->message(), "state digests differ at seq 11: same vs other");
  EXPECT_FALSE(c.holding());
}

TEST(DigestComparison, WithoutMarksAnErrorEndsItAndReleasesTheHold) {
  DigestComparison c(0, 1, false);
  auto qs = c.Next(0);
  EXPECT_TRUE(c.holding());
  c.OnAnswer(To(qs, 1), Response{Code::kFailedPrecondition, "not in service", ""}, 1);
  ASSERT_TRUE(c.verdict());
  EXPECT_EQ(c.verdict()->message(), "digest: not in service");
  EXPECT_FALSE(c.holding());
}

}  // namespace
}  // namespace duplex
