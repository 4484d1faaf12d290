// The agent protocol (agent.capnp) as plain values, and its encoding. An agent message is
// two ZeroMQ parts: kAgentTag, then one frame; a replica's status is one part, so the
// coordinator tells them apart on its one control socket. Decoding treats bytes as hostile
// (size, traversal and nesting limits, a checksum). Stateless and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/status.h"

namespace duplex {

inline constexpr std::string_view kAgentTag = "duplex-agent/1";

struct ReplicaProcess {
  std::string replica;
  uint64_t instance = 0;
  int32_t pid = 0;      // 0: not running
  std::string package;  // "" = the configured processor binary
  std::string version;
  uint64_t exits = 0;
  std::string last_exit;
  uint64_t exited_instance = 0;
  bool stopping = false;
  bool operator==(const ReplicaProcess&) const = default;
};

struct HostFacts {
  std::string arch;
  uint64_t memory_available_mb = 0;
  uint64_t disk_available_mb = 0;
  std::string disk_path;
  bool operator==(const HostFacts&) const = default;
};

struct StoredPackage {
  std::string name;
  std::string version;
  std::string sha256;
  bool operator==(const StoredPackage&) const = default;
};

struct AgentReport {
  std::string host;
  int32_t agent_pid = 0;
  int64_t started_us = 0;
  int64_t sent_us = 0;
  uint64_t generation = 0;
  std::vector<ReplicaProcess> processes;
  HostFacts facts;
  std::vector<StoredPackage> packages;
  bool urgent = false;
  std::string package_error;
  uint64_t term = 0;  // the highest coordinator term it has followed
  bool operator==(const AgentReport&) const = default;
};

struct ReplicaSpec {
  std::string replica;
  uint64_t instance = 0;
  bool run = false;
  std::string package;
  std::string version;
  std::vector<std::string> args;
  uint32_t stop_grace_ms = 3000;
  bool operator==(const ReplicaSpec&) const = default;
};

struct DesiredState {
  std::string host;
  uint64_t generation = 0;
  std::vector<ReplicaSpec> replicas;
  bool restart_when_alone = true;
  // The sending coordinator's leadership term (etcd's leader key revision; 0: the embedded
  // coordinator). Agents ignore desired states of a term below the highest they have seen.
  uint64_t term = 0;
  bool operator==(const DesiredState&) const = default;
  const ReplicaSpec* Find(const std::string& replica) const {
    for (const ReplicaSpec& r : replicas) {
      if (r.replica == replica) return &r;
    }
    return nullptr;
  }
};

struct PackagePart {
  std::string name;
  std::string version;
  std::string manifest;
  uint64_t offset = 0;
  uint64_t total_bytes = 0;
  std::string data;
  std::string signature;  // manifest.sig's text; "" = the package is unsigned
  bool operator==(const PackagePart&) const = default;
};

using AgentFrame = std::variant<AgentReport, DesiredState, PackagePart>;

std::string EncodeAgentFrame(const AgentFrame& frame);
// Corruption naming what was wrong: too large, truncated, checksum, malformed.
StatusOr<AgentFrame> DecodeAgentFrame(std::string_view bytes, size_t bytes_max);

}  // namespace duplex
