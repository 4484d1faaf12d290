#include "state_sync/state_writes.h"

#include <gtest/gtest.h>

#include "state_sync/store.h"
#include "state_sync/wire_codec.h"

namespace duplex {
namespace {

Delta Write(uint64_t seq, uint64_t client, std::vector<Mutation> mutations) {
  Delta d;
  d.epoch = 3;
  d.seq = seq;
  d.mutations = std::move(mutations);
  d.client_id = client;
  d.session.request_seq = client == 0 ? 0 : seq;
  return d;
}

TEST(StateWrites, AreInKeyOrderAndAKeysWritesKeepTheirDeltaOrder) {
  std::vector<Delta> deltas = {Write(1, 9, {{"m", "1", false}}), Write(2, 2, {{"b", "2", false}}),
                               Write(3, 9, {{"m", "", true}, {"a", "3", false}})};
  StateWrites w = SortedStateWrites(deltas);
  std::vector<std::string> keys;
  for (const StateWrite& s : w.writes) keys.push_back(s.key);
  EXPECT_EQ(keys, (std::vector<std::string>{AppKey("a"), AppKey("b"), AppKey("m"), AppKey("m"),
                                            SessionKey(2), SessionKey(9), SessionKey(9)}));
  // "m" is written, then erased: in that order, so the erase wins as it did in delta order.
  EXPECT_EQ(w.writes[2].value, "1");
  EXPECT_FALSE(w.writes[2].erase);
  EXPECT_TRUE(w.writes[3].erase);
  // Client 9's last session entry is seq 3's, with the delta's epoch recorded.
  SessionEntry last = deltas[2].session;
  last.used_epoch = 3;
  EXPECT_EQ(w.writes[6].value, EncodeSession(last));
  EXPECT_EQ(w.sessions.size(), 3u);
}

TEST(StateWrites, AnExpiryErasesTheSessionAndNoClientWritesNone) {
  Delta expiry = Write(1, 5, {});
  expiry.session.request_seq = 0;  // an expired session
  std::vector<Delta> deltas = {expiry, Write(2, 0, {{"k", "v", false}})};
  StateWrites w = SortedStateWrites(deltas);
  ASSERT_EQ(w.writes.size(), 2u);
  EXPECT_EQ(w.writes[0].key, AppKey("k"));
  EXPECT_EQ(w.writes[1].key, SessionKey(5));
  EXPECT_TRUE(w.writes[1].erase);
  EXPECT_TRUE(w.sessions.empty());
}

}  // namespace
}  // namespace duplex
