// PackageDistributor: the campaign's Distribute step on the coordinator's side. It sends a
// stored package (manifest and binary) to the agent of every host that runs a replica and
// does not hold it yet, in parts, throttled to agent.distribute_bytes_per_s per host (a
// migration must not starve the pair's own traffic), and calls a host done when its
// agent reports the package with the same sha256 (the agent verifies it before storing).
// Owned by Upgrades; the coordinator's loop sends the parts. Single-threaded.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "upgrade_coordinator/agent/agent_protocol.h"
#include "upgrade_coordinator/agent_links.h"
#include "upgrade_coordinator/campaign/host.h"
#include "upgrade_coordinator/manifest.h"

namespace duplex {

class PackageDistributor {
 public:
  PackageDistributor(const ClusterConfig& config, const AgentLinks* agents);

  // Starts, or continues, distributing `manifest`'s package (its files under manifest.dir).
  Distribution Want(const PackageManifest& manifest, int64_t now_us);
  // The parts due now, with their agents' routes.
  std::vector<std::pair<std::string, PackagePart>> TakeParts(int64_t now_us);
  // Packages the agents refused (each new package_error an agent reported: a signature, a
  // checksum or a size it would not take), since this distributor was made.
  uint64_t agent_refusals() const { return agent_refusals_; }

 private:
  struct HostSend {
    uint64_t offset = 0;
    int64_t last_us = 0;
    double budget_bytes = 0;
    int refusals = 0;
    std::string last_error;  // the agent's package_error when we last looked
  };
  bool Holds(const std::string& host, const PackageManifest& m) const;

  const ClusterConfig& config_;
  const AgentLinks* agents_;
  std::string key_;  // name-version being distributed
  PackageManifest manifest_;
  std::string manifest_text_;
  std::string signature_text_;  // manifest.sig; "" = unsigned
  std::string binary_;
  std::map<std::string, HostSend> hosts_;
  uint64_t agent_refusals_ = 0;
};

}  // namespace duplex
