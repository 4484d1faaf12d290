#include "replica/frame.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>

#include "common/checksum.h"
#include "replica/replica.capnp.h"

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

TEST(Frame, RoundTripsAnAssignmentsCoordinatorTerm) {
  Assignment a;
  a.epoch = 2;
  a.coordinator_term = 0x1'0000'0007;  // a revision above 32 bits survives
  auto frame = DecodeFrame(EncodeFrame(a), 1 << 20);
  ASSERT_TRUE(frame.ok()) << frame.status().ToString();
  EXPECT_EQ(std::get<Assignment>(*frame).coordinator_term, 0x1'0000'0007u);
  a.coordinator_term = 0;  // the embedded coordinator, and every release before terms
  frame = DecodeFrame(EncodeFrame(a), 1 << 20);
  ASSERT_TRUE(frame.ok());
  EXPECT_EQ(std::get<Assignment>(*frame).coordinator_term, 0u);
}

TEST(Frame, AStatusCarriesItsStaleTermAssignments) {
  StatusReport s;
  s.replica = "a";
  s.stale_term_assignments = 3;
  auto frame = DecodeFrame(EncodeFrame(s), 1 << 20);
  ASSERT_TRUE(frame.ok()) << frame.status().ToString();
  EXPECT_EQ(std::get<StatusReport>(*frame).stale_term_assignments, 3u);
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

TEST(Frame, RoundTripsAnAdminRequestAndItsReply) {
  AdminRequest request;
  request.id = 9;
  request.op = AdminOp::kDigestAt;
  request.schema = 2;
  request.seq = 42;
  request.token = 7;
  request.path = "/archive/state";
  auto frame = DecodeFrame(EncodeFrame(request), 1 << 20);
  ASSERT_TRUE(frame.ok()) << frame.status().ToString();
  const auto* in = std::get_if<AdminRequest>(&*frame);
  ASSERT_NE(in, nullptr);
  EXPECT_EQ(in->id, 9u);
  EXPECT_EQ(in->op, AdminOp::kDigestAt);
  EXPECT_EQ(in->schema, 2u);
  EXPECT_EQ(in->seq, 42u);
  EXPECT_EQ(in->token, 7u);
  EXPECT_EQ(in->path, "/archive/state");

  AdminReply reply = AdminAnswer(9, Code::kNotFound, "no digest mark met there");
  reply.digest = 0xfeed;
  reply.keys = 3;
  reply.seq = 42;
  reply.token = 7;
  reply.path = "/archive/state";
  frame = DecodeFrame(EncodeFrame(reply), 1 << 20);
  ASSERT_TRUE(frame.ok()) << frame.status().ToString();
  const auto* out = std::get_if<AdminReply>(&*frame);
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out->id, 9u);
  EXPECT_EQ(out->code, Code::kNotFound);
  EXPECT_EQ(out->message, "no digest mark met there");
  EXPECT_EQ(DigestText(*out), std::to_string(0xfeed) + " 3 42");
  EXPECT_EQ(out->token, 7u);
  EXPECT_EQ(out->path, "/archive/state");

  StatusReport s;
  s.admin_frames = true;
  frame = DecodeFrame(EncodeFrame(s), 1 << 20);
  ASSERT_TRUE(frame.ok());
  EXPECT_TRUE(std::get<StatusReport>(*frame).admin_frames);
}

// A frame built by hand, checksummed as a peer would: well formed, but it says something
// no release sends.
template <typename Fill>
std::string HandMadeFrame(Fill fill) {
  capnp::MallocMessageBuilder message;
  fill(message.initRoot<wire::Frame>());
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  std::string out(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
  uint64_t sum = Checksum64(out);
  out.append(reinterpret_cast<const char*>(&sum), sizeof(sum));
  return out;
}

TEST(Frame, RefusesAnAdminFrameWithAnUnknownOpOrCodeNamingIt) {
  auto op = DecodeFrame(HandMadeFrame([](wire::Frame::Builder f) {
                          f.initAdminRequest().setOp(static_cast<wire::AdminOp>(99));
                        }),
                        1 << 20);
  ASSERT_FALSE(op.ok());
  EXPECT_EQ(op.status().code(), Code::kCorruption);
  EXPECT_EQ(op.status().message(), "admin request: unknown op 99");
  auto code = DecodeFrame(
      HandMadeFrame([](wire::Frame::Builder f) { f.initAdminReply().setCode(4000); }), 1 << 20);
  ASSERT_FALSE(code.ok());
  EXPECT_EQ(code.status().message(), "admin reply: unknown code 4000");
  // Truncated or oversized admin frames are refused like any other.
  std::string bytes = EncodeFrame(AdminRequest{});
  EXPECT_FALSE(DecodeFrame(bytes.substr(0, bytes.size() - 3), 1 << 20).ok());
  EXPECT_FALSE(DecodeFrame(bytes, bytes.size() - 1).ok());
}

TEST(Frame, AnAdminRequestBecomesTheClientOpAnOlderReleaseTook) {
  auto shown = [](AdminOp op, uint32_t schema, uint64_t number, const std::string& path = "") {
    AdminRequest r;
    r.op = op;
    r.schema = schema;
    r.seq = number;
    r.token = number;
    r.path = path;
    Request out = AdminAsClientOp(r, 77);
    EXPECT_EQ(out.client_id, 77u);
    EXPECT_EQ(out.request_seq, 0u);
    std::string text = out.op;
    for (const auto& a : out.args) text += " " + a;
    return text;
  };
  EXPECT_EQ(shown(AdminOp::kDigest, 0, 0), "_digest");
  EXPECT_EQ(shown(AdminOp::kDigest, 1, 0), "_digest 1");
  EXPECT_EQ(shown(AdminOp::kDigestOpen, 2, 0), "_digest_open 2");
  EXPECT_EQ(shown(AdminOp::kDigestMark, 2, 0), "_digest_mark 2");
  EXPECT_EQ(shown(AdminOp::kDigestAt, 2, 42), "_digest_at 42 2");
  EXPECT_EQ(shown(AdminOp::kDigestOf, 2, 7), "_digest_of 7");
  EXPECT_EQ(shown(AdminOp::kCheckpoint, 0, 0, "/a/b"), "_checkpoint /a/b");

  AdminRequest digest;
  digest.op = AdminOp::kDigest;
  auto read = AdminFromClientAnswer(digest, {Code::kOk, "", "11 3 42"});
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(DigestText(*read), "11 3 42");
  AdminRequest checkpoint;
  checkpoint.op = AdminOp::kCheckpoint;
  read = AdminFromClientAnswer(checkpoint, {Code::kOk, "", "/a/b"});
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->path, "/a/b");
}

}  // namespace
}  // namespace duplex
