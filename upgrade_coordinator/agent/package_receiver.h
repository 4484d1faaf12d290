// PackageReceiver: an agent's side of package distribution. It assembles the binary from
// the coordinator's PackageParts (in order; a gap starts the package over) and, when it is
// whole, stores it through the host's PackageStore, which verifies the manifest's signature
// (against security.package_keys) and the binary's sha256.
// Owned by the agent daemon; not thread-safe.
#pragma once

#include <string>

#include "common/status.h"
#include "upgrade_coordinator/agent/agent_protocol.h"
#include "upgrade_coordinator/package.h"

namespace duplex {

class PackageReceiver {
 public:
  // Parts announcing more than the store's policy().bytes_max are refused at once.
  PackageReceiver(PackageStore* store, std::string scratch_dir);
  // Ok when the part was taken (and, for the last part, the package verified and stored);
  // an error names the package and why it was refused (then it starts over).
  Status OnPart(const PackagePart& part);

 private:
  Status Store(const PackagePart& last);

  PackageStore* store_;
  std::string scratch_dir_;
  std::string name_, version_;  // the package being received
  std::string binary_;
};

}  // namespace duplex
