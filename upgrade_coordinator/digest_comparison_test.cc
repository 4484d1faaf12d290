#include "upgrade_coordinator/digest_comparison.h"

#include <gtest/gtest.h>

namespace duplex {
namespace {

using Question = DigestComparison::Question;

// An answer naming the snapshot opened (mark, open).
AdminReply Opened(uint64_t token, uint64_t seq) {
  AdminReply r;
  r.token = token;
  r.seq = seq;
  return r;
}
// A digest answer ("digest 3 seq" as text).
AdminReply Digest(uint64_t digest, uint64_t seq = 42) {
  AdminReply r;
  r.digest = digest;
  r.keys = 3;
  r.seq = seq;
  return r;
}
AdminReply Error(Code code, const std::string& message) { return AdminAnswer(0, code, message); }

// A question as the client op releases before AdminRequest named it.
std::string Show(const Question& q) {
  const AdminRequest& r = q.request;
  std::string out = std::to_string(q.replica) + " " + AdminOpName(r.op);
  if (r.op == AdminOp::kDigestAt) out += " " + std::to_string(r.seq);
  if (r.op == AdminOp::kDigestOf) return out + " " + std::to_string(r.token);
  return out + " " + std::to_string(r.schema);
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
  c.OnAnswer(qs[0], Opened(7, 42), 1);
  qs = c.Next(1);
  EXPECT_EQ(Shown(qs), (std::vector<std::string>{"0 _digest_at 42 1", "1 _digest_of 7"}));
  c.OnAnswer(To(qs, 0), Digest(0xabc), 2);
  EXPECT_FALSE(c.verdict());
  c.OnAnswer(To(qs, 1), Digest(0xabc), 2);
  ASSERT_TRUE(c.verdict());
  EXPECT_TRUE(c.verdict()->ok());
  EXPECT_FALSE(c.holding());
}

TEST(DigestComparison, DifferentDigestsNameTheSeqAndBothValuesActiveFirst) {
  DigestComparison c(0, 1, true);
  auto qs = c.Next(0);
  c.OnAnswer(qs[0], Opened(1, 42), 0);
  qs = c.Next(0);
  c.OnAnswer(To(qs, 1), Digest(222), 1);  // the standby's
  c.OnAnswer(To(qs, 0), Digest(111), 1);  // the active's
  ASSERT_TRUE(c.verdict());
  EXPECT_EQ(c.verdict()->code(), Code::kCorruption);
  EXPECT_EQ(c.verdict()->message(), "state digests differ at seq 42: 111 3 42 vs 222 3 42");
}

TEST(DigestComparison, AStandbyShortOfTheMarkIsAskedAgainAndOneThatMissedItGetsANewMark) {
  DigestComparison c(0, 2, true);
  auto mark = c.Next(0);
  c.OnAnswer(mark[0], Opened(1, 42), 0);
  auto qs = c.Next(0);
  Question at = To(qs, 1);
  c.OnAnswer(at, Error(Code::kUnavailable, "not applied yet (at seq 40)"), 1);
  EXPECT_TRUE(c.Next(2).empty());
  EXPECT_EQ(c.wake_ms(), 3);
  EXPECT_EQ(Shown(c.Next(3)), std::vector<std::string>{"1 _digest_at 42 2"});
  c.OnAnswer(at, Error(Code::kNotFound, "no digest mark met there (at seq 43)"), 4);
  EXPECT_FALSE(c.Awaits(To(qs, 0)));  // the active's digest of that attempt is moot now
  EXPECT_TRUE(c.Next(5).empty());     // a pause before marking again
  auto again = c.Next(4 + DigestComparison::kRemarkMs);
  EXPECT_EQ(Shown(again), std::vector<std::string>{"0 _digest_mark 2"});
  // Answers to the first attempt's questions are stale now.
  c.OnAnswer(To(qs, 0), Digest(1), 30);
  c.OnAnswer(again[0], Opened(2, 50), 30);
  qs = c.Next(30);
  EXPECT_EQ(Shown(qs), (std::vector<std::string>{"1 _digest_at 50 2", "0 _digest_of 2"}));
  c.OnAnswer(To(qs, 0), Digest(0xd, 50), 31);
  c.OnAnswer(To(qs, 1), Digest(0xd, 50), 31);
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
  c.OnAnswer(first[0], Opened(1, 1), t);  // the lost answer turns up: ignored
  c.OnAnswer(second[0], Opened(2, 9), t);
  auto qs = c.Next(t);
  c.OnAnswer(To(qs, 1), Digest(1, 9), t);
  c.OnAnswer(To(qs, 1), Digest(2, 9), t);  // a duplicate
  c.OnAnswer(To(qs, 0), Digest(1, 9), t);
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
  failing.OnAnswer(qs[0], Opened(1, 1), 0);
  qs = failing.Next(0);
  failing.OnAnswer(To(qs, 0), Error(Code::kNotFound, "no open digest 1"), 1);
  ASSERT_TRUE(failing.verdict());
  EXPECT_EQ(failing.verdict()->code(), Code::kNotFound);
  EXPECT_EQ(failing.verdict()->message(), "digest: no open digest 1");
}

// Another process's answer is input, not an invariant: one naming no snapshot ends the
// comparison with an error instead of stopping the coordinator.
TEST(DigestComparison, AnOpeningAnswerNamingNoSnapshotEndsItWithAnError) {
  DigestComparison c(0, 1, true);
  auto qs = c.Next(0);
  c.OnAnswer(qs[0], Opened(0, 42), 1);
  ASSERT_TRUE(c.verdict());
  EXPECT_EQ(c.verdict()->code(), Code::kCorruption);
  EXPECT_EQ(c.verdict()->message(), "digest mark: the answer names no snapshot (token 0)");
}

TEST(DigestComparison, AnActiveThatCannotMarkIsAskedAgainUntilTheAttemptsRunOut) {
  DigestComparison c(0, 1, true);
  int64_t t = 0;
  for (int i = 0; i < DigestComparison::kMarksMax; ++i, t += DigestComparison::kRemarkMs) {
    auto qs = c.Next(t);
    ASSERT_EQ(qs.size(), 1u) << i;
    c.OnAnswer(qs[0], Error(Code::kUnavailable, "no standby follows"), t);
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
  c.OnAnswer(To(qs, 0), Opened(1, 9), 1);
  c.OnAnswer(To(qs, 1), Opened(1, 10), 1);  // the hold was not applied yet
  EXPECT_TRUE(c.holding());                 // still held while it tries again
  EXPECT_TRUE(c.Next(2).empty());
  qs = c.Next(1 + DigestComparison::kReaskMs);
  ASSERT_EQ(qs.size(), 2u);
  c.OnAnswer(To(qs, 1), Opened(3, 11), 4);
  c.OnAnswer(To(qs, 0), Opened(2, 11), 4);
  EXPECT_FALSE(c.holding());  // both open at 11: writes go on while digests are read
  qs = c.Next(4);
  EXPECT_EQ(Shown(qs), (std::vector<std::string>{"0 _digest_of 2", "1 _digest_of 3"}));
  c.OnAnswer(To(qs, 0), Digest(5, 11), 5);
  c.OnAnswer(To(qs, 1), Digest(6, 11), 5);
  ASSERT_TRUE(c.verdict());
  EXPECT_EQ(c.verdict()->message(), "state digests differ at seq 11: 5 3 11 vs 6 3 11");
  EXPECT_FALSE(c.holding());
}

TEST(DigestComparison, WithoutMarksAnErrorEndsItAndReleasesTheHold) {
  DigestComparison c(0, 1, false);
  auto qs = c.Next(0);
  EXPECT_TRUE(c.holding());
  c.OnAnswer(To(qs, 1), Error(Code::kFailedPrecondition, "not in service"), 1);
  ASSERT_TRUE(c.verdict());
  EXPECT_EQ(c.verdict()->message(), "digest: not in service");
  EXPECT_FALSE(c.holding());
}

// The coordinator asks a replica of a release older than AdminRequest frames (its status
// lacks admin_frames) the same questions as client ops, and reads its text answers back.
// A fake old replica of each side answers like that release did.
TEST(DigestComparison, AReplicaOfAnOlderReleaseIsAskedByClientOpsAndItsAnswersReadBack) {
  DigestComparison c(/*active=*/0, /*schema=*/2, /*marks=*/true);
  std::vector<std::string> asked;
  auto old_replica = [&](const Question& q) -> Response {
    Request op = AdminAsClientOp(q.request, 77);
    EXPECT_EQ(op.request_seq, 0u);  // not deduplicated, as Client::Ask sent them
    std::string shown = op.op;
    for (const auto& a : op.args) shown += " " + a;
    asked.push_back(shown);
    if (op.op == "_digest_mark") return {Code::kOk, "", "5 42"};
    return {Code::kOk, "", "123 3 42"};
  };
  for (int64_t t = 0; !c.verdict() && t < 10; ++t) {
    for (const Question& q : c.Next(t)) {
      c.OnAnswer(q, AdminFromClientAnswer(q.request, old_replica(q)), t);
    }
  }
  EXPECT_EQ(asked, (std::vector<std::string>{"_digest_mark 2", "_digest_at 42 2", "_digest_of 5"}));
  ASSERT_TRUE(c.verdict());
  EXPECT_TRUE(c.verdict()->ok()) << c.verdict()->ToString();
}

TEST(DigestComparison, AnUnreadableAnswerOfAnOlderReleaseIsAnErrorNotAGuess) {
  AdminRequest mark;
  mark.op = AdminOp::kDigestMark;
  auto read = AdminFromClientAnswer(mark, {Code::kOk, "", "garbage"});
  EXPECT_EQ(read.status().code(), Code::kCorruption);
  EXPECT_EQ(read.status().message(), "_digest_mark: unreadable answer 'garbage'");
  auto refused = AdminFromClientAnswer(mark, {Code::kUnavailable, "no standby", ""});
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->code, Code::kUnavailable);
  EXPECT_EQ(refused->message, "no standby");
}

}  // namespace
}  // namespace duplex
