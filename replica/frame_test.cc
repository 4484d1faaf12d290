#include "replica/frame.h"

#include <gtest/gtest.h>

namespace duplex {
namespace {

TEST(Frame, RoundTripsARequest) {
  std::string bytes = EncodeFrame(Request{7, 3, "PUT", {"k", "v"}});
  auto frame = DecodeFrame(bytes, 1 << 20);
  ASSERT_TRUE(frame.ok()) << frame.status().ToString();
  const auto* request = std::get_if<Request>(&*frame);
  ASSERT_NE(request, nullptr);
  EXPECT_EQ(request->client_id, 7u);
  EXPECT_EQ(request->args, (std::vector<std::string>{"k", "v"}));
}

TEST(Frame, RoundTripsAnAssignmentsFlags) {
  Assignment a;
  a.epoch = 4;
  a.role = WireRole::kActive;
  a.drain = true;
  a.standby_out = true;
  a.hold = true;
  auto frame = DecodeFrame(EncodeFrame(a), 1 << 20);
  ASSERT_TRUE(frame.ok()) << frame.status().ToString();
  const auto* out = std::get_if<Assignment>(&*frame);
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out->epoch, 4u);
  EXPECT_TRUE(out->drain);
  EXPECT_TRUE(out->standby_out);
  EXPECT_TRUE(out->hold);
  a.hold = false;
  frame = DecodeFrame(EncodeFrame(a), 1 << 20);
  ASSERT_TRUE(frame.ok());
  EXPECT_FALSE(std::get<Assignment>(*frame).hold);
}

TEST(Frame, AStatusSaysWhetherItsReplicaCanHold) {
  StatusReport s;
  s.replica = "a";
  s.holds = true;
  auto frame = DecodeFrame(EncodeFrame(s), 1 << 20);
  ASSERT_TRUE(frame.ok()) << frame.status().ToString();
  EXPECT_TRUE(std::get<StatusReport>(*frame).holds);
  s.holds = false;  // what a release older than Assignment.hold decodes as
  frame = DecodeFrame(EncodeFrame(s), 1 << 20);
  ASSERT_TRUE(frame.ok());
  EXPECT_FALSE(std::get<StatusReport>(*frame).holds);
}

TEST(Frame, ADeltaBatchCarriesItsDigestMarkAndAStatusSaysItUnderstandsThem) {
  DeltaBatch batch{3, 1, {}, 9, "2.0.0", true, 0};  // a mark at seq 0 is a mark
  auto frame = DecodeFrame(EncodeFrame(PeerMessage(batch)), 1 << 20);
  ASSERT_TRUE(frame.ok()) << frame.status().ToString();
  EXPECT_EQ(std::get<DeltaBatch>(std::get<PeerMessage>(*frame)).digest_at, 0u);
  batch.digest_at = std::nullopt;
  frame = DecodeFrame(EncodeFrame(PeerMessage(batch)), 1 << 20);
  ASSERT_TRUE(frame.ok());
  EXPECT_FALSE(std::get<DeltaBatch>(std::get<PeerMessage>(*frame)).digest_at.has_value());
  StatusReport s;
  s.marks = true;
  frame = DecodeFrame(EncodeFrame(s), 1 << 20);
  ASSERT_TRUE(frame.ok());
  EXPECT_TRUE(std::get<StatusReport>(*frame).marks);
}

// Cap'n Proto reads a flipped byte inside a value as a different valid value; the
// checksum is what refuses it, wherever the flip lands.
TEST(Frame, RefusesEveryFrameWithOneByteFlipped) {
  Delta delta;
  delta.epoch = 1;
  delta.seq = 5;
  delta.mutations = {{"key", "value-that-matters", false}};
  std::string bytes =
      EncodeFrame(PeerMessage(DeltaBatch{1, 1, {delta}, 0, "1.0.0", true, std::nullopt}));
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string flipped = bytes;
    flipped[i] ^= 0x01;
    auto frame = DecodeFrame(flipped, 1 << 20);
    ASSERT_FALSE(frame.ok()) << "byte " << i << " flipped was accepted";
    EXPECT_EQ(frame.status().code(), Code::kCorruption);
  }
  auto truncated = DecodeFrame(bytes.substr(0, bytes.size() - 8), 1 << 20);
  ASSERT_FALSE(truncated.ok());
  EXPECT_NE(truncated.status().message().find("checksum"), std::string::npos)
      << truncated.status().message();
}

}  // namespace
}  // namespace duplex
