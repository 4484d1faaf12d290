// Conversions between the plain values of delta.h and their Cap'n Proto form
// (sync.capnp). The only place that sees sync.capnp readers; stateless.
// Decoders treat input as hostile: size limits are checked by the caller's
// ReaderOptions, and every malformed field becomes a Status, never a crash.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "state_sync/delta.h"
#include "state_sync/sync.capnp.h"

namespace duplex {

// Bytes between std::string and Cap'n Proto Data, for every codec.
inline kj::ArrayPtr<const kj::byte> CapnpBytes(const std::string& s) {
  return {reinterpret_cast<const kj::byte*>(s.data()), s.size()};
}
inline std::string FromCapnpData(capnp::Data::Reader d) {
  return {reinterpret_cast<const char*>(d.begin()), d.size()};
}

void ToWire(const Delta& in, wire::Delta::Builder out);
StatusOr<Delta> FromWire(wire::Delta::Reader in);

void ToWire(const PeerMessage& in, wire::PeerMessage::Builder out);
StatusOr<PeerMessage> FromWire(wire::PeerMessage::Reader in);

// A Delta as a standalone flat message, as stored in the delta log.
std::string EncodeDelta(const Delta& delta);
StatusOr<Delta> DecodeDelta(std::string_view bytes);

// Session entries as stored in the state.
std::string EncodeSession(const SessionEntry& entry);
StatusOr<SessionEntry> DecodeSession(std::string_view bytes);

}  // namespace duplex
