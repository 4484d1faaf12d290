// Fuzzes DecodeFrame (replica/frame.h): every frame a replica reads from outside — client
// requests on the client port, the peer's replication stream (sync.capnp inside replica.capnp),
// the coordinator's assignments and the replicas' status reports, admin frames. A frame that
// decodes must encode again, and decode to a frame that encodes to the same bytes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/assert.h"
#include "fuzz/envelope_input.h"
#include "replica/frame.h"

namespace {
// Larger than any input libFuzzer makes here, so the size check never hides the decoder.
constexpr size_t kFrameBytesMax = 1 << 20;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes = duplex::fuzz::EnvelopeInput(data, size);
  auto frame = duplex::DecodeFrame(bytes, kFrameBytesMax);
  if (!frame.ok()) return 0;
  const std::string encoded = duplex::EncodeFrame(*frame);
  auto again = duplex::DecodeFrame(encoded, encoded.size());
  DUPLEX_ASSERT(again.ok(), "a re-encoded frame does not decode:", again.status().ToString());
  DUPLEX_ASSERT(again->index() == frame->index(), "the frame changed kind", frame->index(),
                again->index());
  DUPLEX_ASSERT(duplex::EncodeFrame(*again) == encoded, "the round trip changed the frame");
  return 0;
}
