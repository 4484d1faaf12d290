#include "replica/internal/session_table.h"

#include <algorithm>

#include "common/assert.h"
#include "common/fatal.h"

namespace duplex {

void SessionTable::BeginTerm(int64_t now_us) {
  cache_.clear();
  term_start_us_ = now_us;
}

void SessionTable::MakeRoom(size_t n) {
  if (cache_.size() + n > kCachedSessionsMax) cache_.clear();
}

std::optional<SessionEntry> SessionTable::Find(uint64_t client_id) {
  DUPLEX_ASSERT(client_id != 0, "client 0 sends untracked requests and has no session");
  if (auto it = cache_.find(client_id); it != cache_.end()) return it->second;
  auto stored = ctx_.store().GetSession(client_id);
  if (!stored.ok()) Fatal(stored.status());
  if (*stored) cache_[client_id] = **stored;
  DUPLEX_ASSERT(cache_.size() <= kCachedSessionsMax, "the cache is bounded", cache_.size());
  return *stored;
}

std::optional<Delta> SessionTable::Refresh(uint64_t client_id, const SessionEntry& last,
                                           uint64_t seq, int64_t now_us) {
  int64_t expiry_ms = ctx_.options().session_expiry_ms;
  if (expiry_ms <= 0 || AgeUs(last, now_us) <= expiry_ms * 1000 / 2) return std::nullopt;
  // Dated again through the log, as every change of the table, at most once per half
  // expiry period.
  Delta d = MakeDelta(seq, client_id);
  d.session = last;
  d.session.used_epoch = ctx_.epoch();
  d.session.used_ms = now_us / 1000;
  DUPLEX_ASSERT(d.session.request_seq != 0, "a dated entry is not an erasure", client_id);
  cache_[client_id] = d.session;
  return d;
}

void SessionTable::Record(Delta& d, const Request& request, const Response& response,
                          int64_t now_us) {
  DUPLEX_ASSERT(request.client_id != 0 && request.request_seq != 0,
                "only tracked requests are remembered", request.client_id, request.request_seq);
  d.client_id = request.client_id;
  d.session = {request.request_seq, static_cast<uint16_t>(response.code),
               response.message,    response.value,
               ctx_.epoch(),        now_us / 1000};
  cache_[request.client_id] = d.session;  // a failed append is fatal: no rollback
}

int64_t SessionTable::AgeUs(const SessionEntry& entry, int64_t now_us) const {
  // Only the active's own clock can date an entry, and only since its term started: an
  // entry of an older epoch, or of this one written before this process restarted into it,
  // is dated no earlier than the term's start. Its client may have been retrying all along
  // while no replica served; nothing expires before it really was idle that long.
  DUPLEX_ASSERT(entry.used_epoch <= ctx_.epoch(), "an entry is dated by an epoch we know",
                entry.used_epoch, ctx_.epoch());
  int64_t own_us = entry.used_epoch == ctx_.epoch() ? entry.used_ms * 1000 : 0;
  return now_us - std::max(own_us, term_start_us_);
}

bool SessionTable::SweepDue(int64_t now_us) const {
  return ctx_.options().session_expiry_ms > 0 && now_us >= next_sweep_us_;
}

std::vector<Delta> SessionTable::Sweep(int64_t now_us, uint64_t first_seq) {
  // A few entries per sweep, resuming after the last one read: the table is scanned
  // round and round, and the expired entries are erased through the log (deltas without
  // mutations whose session entry has request seq 0), so the standby erases them too.
  DUPLEX_ASSERT(first_seq == ctx_.last_seq() + 1, "erasures continue the log", first_seq,
                ctx_.last_seq());
  next_sweep_us_ = now_us + kSweepEveryUs;
  auto entries = ctx_.store().ListSessions(sweep_after_, kSweepEntries);
  if (!entries.ok()) Fatal(entries.status());
  DUPLEX_ASSERT(entries->size() <= kSweepEntries, "a sweep reads a bounded batch", entries->size());
  sweep_after_ = entries->size() < kSweepEntries ? 0 : entries->back().first;
  std::vector<Delta> erase;
  for (const auto& [client_id, entry] : *entries) {
    if (AgeUs(entry, now_us) <= ctx_.options().session_expiry_ms * 1000) continue;
    erase.push_back(MakeDelta(first_seq + erase.size(), client_id));
    cache_.erase(client_id);
  }
  ctx_.counters().sessions_expired += erase.size();
  return erase;
}

Delta SessionTable::MakeDelta(uint64_t seq, uint64_t client_id) const {
  Delta d;
  d.epoch = ctx_.epoch();
  d.seq = seq;
  d.schema = ctx_.processor().Schema();
  d.client_id = client_id;
  return d;
}

}  // namespace duplex
