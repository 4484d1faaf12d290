#include "upgrade_coordinator/limits_config.h"

#include <cstdint>
#include <string>

#include "replica/zmq_util.h"

namespace duplex {
namespace {

// Milliseconds are turned into microseconds in int64_t: 2^40 ms (35 years) leaves room.
constexpr uint64_t kMillisecondsMax = uint64_t{1} << 40;
// A replica's client port is one process's file descriptors.
constexpr uint64_t kConnectionsMax = uint64_t{1} << 20;
constexpr uint64_t kClientFrameBytes = uint64_t{16} << 20;  // a replica's frame_bytes_max
constexpr uint64_t kInputBytesMax = uint64_t{1} << 50;

Status InRange(const YamlField& section, const char* key, uint64_t value, uint64_t min,
               uint64_t max, const std::string& why) {
  if (value >= min && value <= max) return Status::Ok();
  return section[key].Error("must be " + std::to_string(min) + " to " + std::to_string(max) + " (" +
                            why + "), got " + std::to_string(value));
}

}  // namespace

Status CheckLimits(const YamlField& s, const LimitsConfig& l) {
  DUPLEX_RETURN_IF_ERROR(InRange(s, "zmq_parts_max", l.zmq_parts_max, 3, kZmqPartsMaxLimit,
                                 "a duplex message has up to 3 parts"));
  DUPLEX_RETURN_IF_ERROR(InRange(s, "client_connections_max", l.client_connections_max, 1,
                                 kConnectionsMax, "each one is a file descriptor"));
  DUPLEX_RETURN_IF_ERROR(InRange(s, "client_idle_timeout_ms", l.client_idle_timeout_ms, 1,
                                 kMillisecondsMax, "milliseconds"));
  DUPLEX_RETURN_IF_ERROR(InRange(s, "client_partial_frame_ms", l.client_partial_frame_ms, 1,
                                 kMillisecondsMax, "milliseconds"));
  DUPLEX_RETURN_IF_ERROR(InRange(s, "client_input_bytes_max", l.client_input_bytes_max,
                                 kClientFrameBytes, kInputBytesMax,
                                 "bytes; at least one whole client frame of 16 MiB"));
  return Status::Ok();
}

}  // namespace duplex
