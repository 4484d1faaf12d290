// How the envelope targets (frame, agent_frame) read their input: a mode byte, then the bytes.
// A frame's envelope ends in a checksum (replica/frame_envelope.h), which random mutations
// would almost never match, leaving the Cap'n Proto decoding behind it unreached. So in the
// sealed mode (odd first byte) the bytes are the flat message, cut to whole words, and the
// right checksum is appended here; in the raw mode (even) they are the frame as received,
// which fuzzes the envelope's own checks. Seeds carry both (fuzz/make_seeds.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/checksum.h"

namespace duplex::fuzz {

inline std::string EnvelopeInput(const uint8_t* data, size_t size) {
  if (size == 0) return {};
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) return bytes;
  bytes.resize(bytes.size() - bytes.size() % 8);
  const uint64_t sum = Checksum64(bytes);
  bytes.append(reinterpret_cast<const char*>(&sum), sizeof(sum));
  return bytes;
}

// The seed of a sealed frame in each mode: {raw, sealed}.
inline std::string RawSeed(const std::string& frame) { return std::string(1, '\0') + frame; }
inline std::string SealedSeed(const std::string& frame) {
  return std::string(1, '\1') + frame.substr(0, frame.size() - sizeof(uint64_t));
}

}  // namespace duplex::fuzz
