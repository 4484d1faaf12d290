// Plain values of the replication protocol (sync.capnp): what the active sends
// its standby and what the standby answers. No I/O; copyable; thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace duplex {

// One write to the replicated key space. Keys and values are opaque bytes.
struct Mutation {
  std::string key;
  std::string value;
  bool erase = false;
  bool operator==(const Mutation&) const = default;
};

// The answer a request produced, kept per client so a retry gets it again. An entry idle
// for longer than the session expiry is erased by the active, through the log.
struct SessionEntry {
  uint64_t request_seq = 0;  // 0 in a delta: erase the client's entry (an expiry)
  uint16_t code = 0;
  std::string message;
  std::string value;
  // When the request ran: the active's monotonic clock in the epoch it served. Only that
  // same epoch's active can compare it with its clock; 0, 0 for entries of older releases.
  // In a delta the epoch is the delta's; the store records it.
  uint64_t used_epoch = 0;
  int64_t used_ms = 0;
  bool operator==(const SessionEntry&) const = default;
};

// One state change numbered (epoch, seq); seq is gapless within a history.
struct Delta {
  uint64_t epoch = 0;
  uint64_t seq = 0;
  uint32_t schema = 1;
  std::vector<Mutation> mutations;
  uint64_t client_id = 0;  // 0: no session entry
  SessionEntry session;
  bool operator==(const Delta&) const = default;
};

struct Hello {
  std::string replica;
  uint64_t epoch = 0;
  uint64_t last_epoch = 0;
  uint64_t last_seq = 0;
  std::string version;
  uint32_t schema = 1;
  uint64_t session_id = 0;
  bool needs_snapshot = false;
};

struct DeltaBatch {
  uint64_t epoch = 0;
  int64_t sent_us = 0;
  std::vector<Delta> deltas;
  uint64_t session_id = 0;
  std::string version;
  bool caught_up = false;
  // A digest mark: the active opened a digest snapshot at this seq, before these deltas.
  std::optional<uint64_t> digest_at;
};

struct SnapshotChunk {
  uint64_t epoch = 0;
  uint64_t session_id = 0;
  uint64_t snapshot_epoch = 0;
  uint64_t snapshot_seq = 0;
  uint32_t index = 0;
  bool last = false;
  std::vector<Mutation> entries;  // raw state entries (key space as stored)
  uint32_t schema = 1;
  int64_t sent_us = 0;
};

struct Ack {
  uint64_t epoch = 0;
  uint64_t applied_seq = 0;
  int64_t echo_us = 0;
  uint64_t session_id = 0;
  std::string replica;
  uint32_t snapshot_chunks = 0;
};

struct Refusal {
  uint64_t epoch = 0;
  std::string reason;
  uint64_t session_id = 0;
};

using PeerMessage = std::variant<Hello, DeltaBatch, SnapshotChunk, Ack, Refusal>;

}  // namespace duplex
