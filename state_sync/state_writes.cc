#include "state_sync/state_writes.h"

#include <algorithm>

#include "common/assert.h"
#include "state_sync/store.h"
#include "state_sync/wire_codec.h"

namespace duplex {

StateWrites SortedStateWrites(const std::vector<Delta>& deltas) {
  StateWrites out;
  size_t sessions = 0, writes = 0;
  for (const Delta& d : deltas) {
    writes += d.mutations.size() + (d.client_id != 0 ? 1 : 0);
    sessions += d.client_id != 0 && d.session.request_seq != 0 ? 1 : 0;
  }
  out.writes.reserve(writes);
  out.sessions.reserve(sessions);  // never grows below: the views into it stay valid
  for (const Delta& d : deltas) {
    for (const Mutation& m : d.mutations) {
      out.writes.push_back({AppKey(m.key), m.erase ? std::string_view() : m.value, m.erase});
    }
    if (d.client_id == 0) continue;
    if (d.session.request_seq == 0) {
      out.writes.push_back({SessionKey(d.client_id), {}, true});  // expired
      continue;
    }
    SessionEntry entry = d.session;
    entry.used_epoch = d.epoch;
    out.sessions.push_back(EncodeSession(entry));
    out.writes.push_back({SessionKey(d.client_id), out.sessions.back(), false});
  }
  DUPLEX_ASSERT(out.sessions.size() == sessions && out.writes.size() == writes,
                "the reservations were exact", out.sessions.size(), sessions, out.writes.size(),
                writes);
  std::stable_sort(out.writes.begin(), out.writes.end(),
                   [](const StateWrite& a, const StateWrite& b) { return a.key < b.key; });
  return out;
}

}  // namespace duplex
