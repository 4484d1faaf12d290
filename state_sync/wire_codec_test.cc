#include "state_sync/wire_codec.h"

#include <capnp/any.h>
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>

namespace duplex {
namespace {

TEST(WireCodec, ADeltaSurvivesTheRoundTrip) {
  Delta d;
  d.epoch = 3;
  d.seq = 99;
  d.schema = 2;
  d.mutations = {{"k", std::string("v\0w", 3), false}, {"gone", "", true}};
  d.client_id = 12;
  d.session = {5, 0, "", "OK", 0, 0};
  auto back = DecodeDelta(EncodeDelta(d));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, d);
}

TEST(WireCodec, GarbageIsAnErrorNotACrash) {
  for (std::string junk :
       {std::string(), std::string(7, 'x'), std::string(64, '\xff'), std::string(8, '\0'),
        std::string("\x00\x00\x00\x00\xff\xff\xff\x7f", 8)}) {
    auto d = DecodeDelta(junk);
    EXPECT_FALSE(d.ok()) << "decoded " << junk.size() << " bytes of junk";
  }
  EXPECT_FALSE(DecodeSession("short").ok());
  std::string lying = EncodeSession({1, 0, "msg", "v", 0, 0});
  lying[23] = 100;  // message length past the end
  EXPECT_EQ(DecodeSession(lying).status().code(), Code::kCorruption);
  EXPECT_EQ(DecodeSession(EncodeSession({1, 0, "", "", 3, 4}).substr(0, 30)).status().code(),
            Code::kCorruption);
}

TEST(WireCodec, ASessionEntrySaysWhenItWasUsedAndOlderEntriesStillRead) {
  SessionEntry entry{7, 2, "not found", "value", 5, 123456789};
  auto back = DecodeSession(EncodeSession(entry));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, entry);
  // An entry as releases before session expiry stored it: seq, code, message length, text.
  std::string legacy;
  for (uint64_t word : {uint64_t{7}, uint64_t{2}, uint64_t{9}}) {
    for (int shift = 56; shift >= 0; shift -= 8) legacy += static_cast<char>(word >> shift);
  }
  legacy += "not foundvalue";
  auto old = DecodeSession(legacy);
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_EQ(*old, (SessionEntry{7, 2, "not found", "value", 0, 0}));
  Delta d;
  d.seq = 1;
  d.client_id = 9;
  d.session = {3, 0, "", "", 0, 42};
  auto wire = DecodeDelta(EncodeDelta(d));
  ASSERT_TRUE(wire.ok());
  EXPECT_EQ(wire->session.used_ms, 42);
}

// The bytes of a wire::Delta that ToWire would never write (it asserts against them).
std::string ForgedDelta(uint32_t schema, uint64_t client_id, uint64_t request_seq) {
  capnp::MallocMessageBuilder message;
  auto d = message.initRoot<wire::Delta>();
  d.setEpoch(1);
  d.setSeq(5);
  d.setSchema(schema);
  d.setClientId(client_id);
  d.setRequestSeq(request_seq);
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  return {reinterpret_cast<const char*>(bytes.begin()), bytes.size()};
}

// Found by fuzz/stored_fuzz.cc and fuzz/frame_fuzz.cc: FromWire took deltas and chunks that
// ToWire asserts it never writes, so a standby storing one (or an active re-sending it)
// crashed on the assertion. They are refused as Corruption now.
TEST(WireCodec, ValuesTheEncoderNeverWritesAreRefused) {
  auto schema0 = DecodeDelta(ForgedDelta(0, 9, 3));
  EXPECT_EQ(schema0.status().code(), Code::kCorruption) << schema0.status().ToString();
  EXPECT_EQ(schema0.status().message(), "delta 5: schema 0 (schemas start at 1)");
  auto orphan = DecodeDelta(ForgedDelta(1, 0, 3));
  EXPECT_EQ(orphan.status().message(), "delta 5: a session entry without a client");
  ASSERT_TRUE(DecodeDelta(ForgedDelta(1, 9, 3)).ok());

  capnp::MallocMessageBuilder batch_message;
  auto batch = batch_message.initRoot<wire::PeerMessage>().initDeltas();
  batch.setEpoch(2);
  Delta later;
  later.epoch = 3;
  later.seq = 1;
  ToWire(later, batch.initDeltas(1)[0]);
  auto peer = FromWire(batch_message.getRoot<wire::PeerMessage>().asReader());
  EXPECT_EQ(peer.status().message(),
            "delta batch of epoch 2: carries a delta of the later epoch 3");

  capnp::MallocMessageBuilder chunk_message;
  auto chunk = chunk_message.initRoot<wire::PeerMessage>().initSnapshotChunk();
  chunk.setEpoch(2);
  chunk.setSnapshotEpoch(2);
  chunk.setSchema(0);
  peer = FromWire(chunk_message.getRoot<wire::PeerMessage>().asReader());
  EXPECT_EQ(peer.status().message(), "snapshot chunk: schema 0 (schemas start at 1)");
  chunk.setSchema(1);
  chunk.setSnapshotEpoch(3);
  peer = FromWire(chunk_message.getRoot<wire::PeerMessage>().asReader());
  EXPECT_EQ(peer.status().message(), "snapshot chunk of epoch 2: a snapshot of the later epoch 3");
}

// Found by fuzz/stored_fuzz.cc: read with Cap'n Proto's default traversal limit, a stored
// delta of a few words could declare a million empty mutations (a list of zero-sized
// structs), and decoding it allocated hundreds of megabytes. The limit follows the size now.
TEST(WireCodec, AStoredDeltaCannotDeclareMoreMutationsThanItsBytesHold) {
  capnp::MallocMessageBuilder message;
  auto d = message.initRoot<wire::Delta>();
  d.setSeq(1);
  d.setSchema(1);
  capnp::toAny(d).getPointerSection()[0].initAsListOfAnyStruct(0, 0, 1 << 20);  // mutations
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  ASSERT_LT(bytes.size(), 128u);
  auto decoded = DecodeDelta({reinterpret_cast<const char*>(bytes.begin()), bytes.size()});
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), Code::kCorruption) << decoded.status().ToString();
}

}  // namespace
}  // namespace duplex
