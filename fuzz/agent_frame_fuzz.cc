// Fuzzes DecodeAgentFrame (upgrade_coordinator/agent/agent_protocol.h): the agents' reports
// to the coordinator, the coordinator's desired states and package parts to the agents.
// A frame that decodes must survive a round trip unchanged (decode(encode(x)) == x).
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/assert.h"
#include "fuzz/envelope_input.h"
#include "upgrade_coordinator/agent/agent_protocol.h"

namespace {
constexpr size_t kFrameBytesMax = 1 << 20;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes = duplex::fuzz::EnvelopeInput(data, size);
  auto frame = duplex::DecodeAgentFrame(bytes, kFrameBytesMax);
  if (!frame.ok()) return 0;
  const std::string encoded = duplex::EncodeAgentFrame(*frame);
  auto again = duplex::DecodeAgentFrame(encoded, encoded.size());
  DUPLEX_ASSERT(again.ok(), "a re-encoded agent frame does not decode:", again.status().ToString());
  DUPLEX_ASSERT(*again == *frame, "the round trip changed the agent frame");
  return 0;
}
