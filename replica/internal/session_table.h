// SessionTable: the active's view of its clients' sessions (each client's last answer, kept
// for retries): a cache in front of the store, the dating of entries, and their expiry,
// swept a few entries at a time. Every change of the table is a delta it builds itself and
// the active term replicates, so the standby's table is the same. Owned by ActiveTerm;
// single-threaded.
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "replica/internal/core_context.h"

namespace duplex {

class SessionTable {
 public:
  explicit SessionTable(CoreContext& ctx) : ctx_(ctx) {}

  // A new active term: another replica wrote sessions meanwhile, and entries are dated no
  // earlier than now.
  void BeginTerm(int64_t now_us);
  // Room for `n` more cached entries (the cache is bounded: cleared when it would overflow).
  void MakeRoom(size_t n);
  // The client's last answer, from the cache or the store (a failed read is fatal).
  std::optional<SessionEntry> Find(uint64_t client_id);
  // A retry finding its entry more than half the expiry old: the delta (at `seq`) that
  // dates it again, or nothing. A client still retrying is not idle.
  std::optional<Delta> Refresh(uint64_t client_id, const SessionEntry& last, uint64_t seq,
                               int64_t now_us);
  // Records in `d` (and in the cache) the answer to a tracked request.
  void Record(Delta& d, const Request& request, const Response& response, int64_t now_us);
  bool SweepDue(int64_t now_us) const;
  // When the next sweep is due (its timer, for the event loop's wait).
  int64_t next_sweep_us() const { return next_sweep_us_; }
  // The next few entries idle longer than the expiry, as erasing deltas from `first_seq`.
  std::vector<Delta> Sweep(int64_t now_us, uint64_t first_seq);

 private:
  // How long ago a session entry was last used, as far as this term can tell.
  int64_t AgeUs(const SessionEntry& entry, int64_t now_us) const;
  Delta MakeDelta(uint64_t seq, uint64_t client_id) const;

  static constexpr size_t kCachedSessionsMax = 1 << 16;
  static constexpr int64_t kSweepEveryUs = 100 * 1000;
  static constexpr size_t kSweepEntries = 256;

  CoreContext& ctx_;
  // Clients' last answers read or written in this active term. While active, this replica
  // is the only writer of sessions, so the cache cannot go stale before the term ends
  // (cleared at the next one). Saves a RocksDB Get per request.
  std::unordered_map<uint64_t, SessionEntry> cache_;
  int64_t term_start_us_ = 0;  // when this replica last became active
  int64_t next_sweep_us_ = 0;
  uint64_t sweep_after_ = 0;  // the sweep resumes after this client id
};

}  // namespace duplex
