// DigestComparison: the campaign's check that both replicas hold the same state, compared
// at one seq while writes go on, without I/O. The coordinator's worker drives it with
// blocking requests, the simulator with its simulated network; both ask what Next() says,
// hand back what came (or why nothing did) to OnAnswer(), and stop at verdict().
//
// With digest marks (both replicas' status says `marks`): the active opens its snapshot at
// its seq S and marks S in its delta stream (kDigestMark in `schema` -> token, S); the
// standby opens its own when it meets the mark. Then kDigestAt S asks the standby for its
// digest ("not applied yet": ask again soon; "no digest mark met there", a resync or a
// gap: mark again) and kDigestOf token the active for its. Nobody's writes wait.
//
// Without (a release older than marks): holding() asks the driver to hold the active's
// writes (Assignment.hold) while both replicas open a snapshot (kDigestOpen -> token, S)
// until they name the same S; then the hold ends and both digests are computed.
//
// Questions and answers are typed (AdminRequest, AdminReply, the admin path); the driver
// says how each replica takes them (Client::Admin).
//
// Digests are computed in `schema`, the older of the two replicas' schemas. An answer that
// never comes (a lost message) is given up after kAnswerTimeoutMs and the attempt starts
// again; a replica that answers with an error, or that cannot be reached, ends it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "replica/frame.h"

namespace duplex {

class DigestComparison {
 public:
  // With marks: marks tried, the pause between them, and how long a standby may take to
  // reach one (asked again every kReaskMs meanwhile).
  static constexpr int kMarksMax = 100;
  static constexpr int64_t kRemarkMs = 20;
  static constexpr int64_t kReaskMs = 2;
  static constexpr int64_t kReachMarkMs = 10000;
  // Without: snapshot pairs opened while writes are held, one every kReaskMs (the standby
  // is a batch behind, a millisecond or two).
  static constexpr int kOpeningsMax = 2000;
  static constexpr int64_t kAnswerTimeoutMs = 200;  // then the attempt starts over

  struct Question {
    size_t replica = 0;    // index in the cluster's replica list
    AdminRequest request;  // its id is the driver's to set
    int timeout_ms = 0;    // for a blocking driver: a digest reads the whole state
    int attempt = 0;
  };

  // `active`: the index of the active; `schema`: the older replica's state schema;
  // `marks`: both replicas understand digest marks.
  DigestComparison(size_t active, uint32_t schema, bool marks);

  // The questions to send now (none while answers are awaited or a retry waits).
  std::vector<Question> Next(int64_t now_ms);
  // The answer to `q`, or the failure to get one. Late, stale or repeated answers are
  // ignored: the first answer to a question wins.
  void OnAnswer(const Question& q, const StatusOr<AdminReply>& answer, int64_t now_ms);

  // `q` still waits for its answer: not stale (an earlier attempt's), not answered yet. A
  // blocking driver skips the rest of a batch once an answer made them stale.
  bool Awaits(const Question& q) const;
  // Set once the comparison has ended: Ok when the digests are equal.
  const std::optional<Status>& verdict() const { return verdict_; }
  // The active's writes must be held now (only without marks).
  bool holding() const { return holding_; }
  // When Next() next has something to do: ask, retry or give up waiting.
  int64_t wake_ms() const;

 private:
  enum class Phase { kRetry, kOpening, kDigests };
  struct Slot {  // one replica's question of the current phase
    bool wanted = false;
    bool asked = false;
    int64_t ask_at_ms = 0, deadline_ms = 0;
    std::optional<AdminReply> answer;
    uint64_t token = 0;  // the snapshot its open or mark answer named
  };

  void Begin(Phase phase, int64_t now_ms);
  void StartOver(int64_t now_ms, std::string why);
  void End(Status status);
  void OnOpened(size_t replica, const AdminReply& r, int64_t now_ms);
  void OnDigest(size_t replica, const AdminReply& r, int64_t now_ms);
  Question Make(size_t replica) const;

  const size_t active_, standby_;
  const uint32_t schema_;
  const bool marks_;
  Phase phase_ = Phase::kRetry;
  int attempt_ = 0;
  int64_t retry_at_ms_ = 0;
  int64_t reach_by_ms_ = 0;      // the standby must reach the mark by then
  std::optional<uint64_t> seq_;  // the seq both digests read
  std::string last_;             // why the last attempt did not compare
  bool holding_ = false;
  Slot slots_[2];
  std::optional<Status> verdict_;
};

}  // namespace duplex
