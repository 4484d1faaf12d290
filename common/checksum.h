// Checksum64: a fast 64-bit hash for detecting corruption of bytes in flight (frames on
// the data plane). Not cryptographic: it catches flipped bits and truncation, not an
// adversary. Deterministic across machines (little-endian reads).
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace duplex {

inline uint64_t Checksum64(std::string_view bytes) {
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
  uint64_t h = 0x243F6A8885A308D3ull ^ (bytes.size() * kMul);
  auto mix = [&](uint64_t v) {
    h ^= v * kMul;
    h = (h << 31 | h >> 33) * 0xC2B2AE3D27D4EB4Full;
  };
  size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    uint64_t v;
    std::memcpy(&v, bytes.data() + i, 8);
    mix(v);
  }
  uint64_t tail = 0;
  std::memcpy(&tail, bytes.data() + i, bytes.size() - i);
  mix(tail ^ 0xFF);
  h ^= h >> 29;
  h *= 0xBF58476D1CE4E5B9ull;
  return h ^ (h >> 32);
}

}  // namespace duplex
