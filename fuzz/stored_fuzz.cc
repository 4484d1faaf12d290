// Fuzzes what the store decodes when it reads its own records back (state_sync/store.h,
// state_sync/wire_codec.h): a delta of the delta log; a client's session entry (written by a
// commit, or installed raw from a snapshot chunk); the metadata record. The first byte picks
// the decoder; a record that decodes must survive a round trip unchanged.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/assert.h"
#include "state_sync/store.h"
#include "state_sync/wire_codec.h"

namespace {

void Delta(std::string_view bytes) {
  auto delta = duplex::DecodeDelta(bytes);
  if (!delta.ok()) return;
  auto again = duplex::DecodeDelta(duplex::EncodeDelta(*delta));
  DUPLEX_ASSERT(again.ok(), "a re-encoded delta does not decode:", again.status().ToString());
  DUPLEX_ASSERT(*again == *delta, "the round trip changed the delta");
}

void Session(std::string_view bytes) {
  auto entry = duplex::DecodeSession(bytes);
  if (!entry.ok()) return;
  auto again = duplex::DecodeSession(duplex::EncodeSession(*entry));
  DUPLEX_ASSERT(again.ok(), "a re-encoded session does not decode:", again.status().ToString());
  DUPLEX_ASSERT(*again == *entry, "the round trip changed the session entry");
}

// StoreMeta has no operator==: its encoding stands for it.
void Meta(std::string_view bytes) {
  auto meta = duplex::DecodeMeta(bytes);
  if (!meta.ok()) return;
  const std::string encoded = duplex::EncodeMeta(*meta);
  auto again = duplex::DecodeMeta(encoded);
  DUPLEX_ASSERT(again.ok(), "a re-encoded meta does not decode:", again.status().ToString());
  DUPLEX_ASSERT(duplex::EncodeMeta(*again) == encoded, "the round trip changed the meta");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      Delta(bytes);
      break;
    case 1:
      Session(bytes);
      break;
    default:
      Meta(bytes);
      break;
  }
  return 0;
}
