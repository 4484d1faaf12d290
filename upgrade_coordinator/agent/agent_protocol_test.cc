#include "upgrade_coordinator/agent/agent_protocol.h"

#include <capnp/message.h>
#include <gtest/gtest.h>

#include "replica/frame_envelope.h"
#include "upgrade_coordinator/agent/agent.capnp.h"

namespace duplex {
namespace {

AgentReport SampleReport() {
  AgentReport r;
  r.host = "h1";
  r.agent_pid = 42;
  r.started_us = 1000;
  r.sent_us = 2000;
  r.generation = 7;
  r.processes = {{"a", 3, 4242, "kv", "2.0.0", 1, "was killed by signal 9", 2, false}};
  r.facts = {"x86_64", 1024, 2048, "/data"};
  r.packages = {{"kv", "2.0.0", std::string(64, 'a')}};
  r.urgent = true;
  r.package_error = "";
  r.term = 77;
  return r;
}

TEST(AgentProtocol, EveryFrameRoundTrips) {
  const AgentReport report = SampleReport();
  DesiredState desired{
      "h1", 9, {{"a", 3, true, "kv", "2.0.0", {"--name", "a"}, 2500}}, false, 0x1'0000'0005};
  PackagePart part{"kv",           "2.0.0", "name: kv\n", 10, 30, std::string("\0\1\2binary", 9),
                   "ed25519 k s\n"};
  for (const AgentFrame& frame : {AgentFrame(report), AgentFrame(desired), AgentFrame(part)}) {
    auto decoded = DecodeAgentFrame(EncodeAgentFrame(frame), 1 << 20);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(*decoded, frame);
  }
}

TEST(AgentProtocol, ADesiredStateWithoutATermIsOfTermZero) {
  DesiredState desired{"h1", 2, {}, true};  // what the embedded coordinator sends
  auto decoded = DecodeAgentFrame(EncodeAgentFrame(desired), 1 << 20);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(std::get<DesiredState>(*decoded).term, 0u);
  desired.term = 12;
  decoded = DecodeAgentFrame(EncodeAgentFrame(desired), 1 << 20);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(std::get<DesiredState>(*decoded).term, 12u);
}

TEST(AgentProtocol, HostileBytesAreRefusedWithTheReason) {
  std::string bytes = EncodeAgentFrame(SampleReport());
  EXPECT_EQ(DecodeAgentFrame(bytes, 16).status().message().rfind("agent frame of", 0), 0u);
  EXPECT_NE(DecodeAgentFrame(bytes.substr(0, bytes.size() - 3), 1 << 20)
                .status()
                .message()
                .find("not a whole number of 8-byte words"),
            std::string::npos);
  std::string flipped = bytes;
  flipped[20] ^= 0x40;
  EXPECT_EQ(DecodeAgentFrame(flipped, 1 << 20).status().message(),
            "agent frame checksum mismatch (corrupted in flight)");
  EXPECT_FALSE(DecodeAgentFrame("", 1 << 20).ok());
}

// Found by fuzz/agent_frame_fuzz.cc: a text field holding a NUL decoded whole, but encoded
// again only up to the NUL (KJ takes a std::string through c_str()), so the round trip changed
// the value ("a\0b" came back "a"). Such a frame is refused now.
TEST(AgentProtocol, ATextFieldHoldingANulIsRefused) {
  capnp::MallocMessageBuilder message;
  auto desired = message.initRoot<agent_wire::AgentFrame>().initDesired();
  desired.setHost("h1");
  desired.initReplicas(1)[0].setReplica(capnp::Text::Reader("a\0b", 3));
  auto decoded = DecodeAgentFrame(SealEnvelope(message), 1 << 20);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), Code::kCorruption);
  EXPECT_NE(decoded.status().message().find("a text field holds a NUL byte"), std::string::npos)
      << decoded.status().ToString();
}

}  // namespace
}  // namespace duplex
