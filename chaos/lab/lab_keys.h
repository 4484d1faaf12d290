// Keys for the clusters the harness starts (the chaos fixture, `duplex lab up`, benchmarks, the
// end-to-end tests): CURVE is on in each of them unless its caller turns it off. Helpers over
// upgrade_coordinator/security_config.h that write key files and nothing else; thread-compatible.
#pragma once

#include <string>

#include "common/status.h"
#include "upgrade_coordinator/cluster_config.h"

namespace duplex::lab {

// Whether config lists a public key for every member it implies (ClusterMembers).
bool KeysCoverMembers(const ClusterConfig& config);

// A key pair per member of config under keys_dir (InitClusterKeys: <member>.secret with mode
// 0600 and <member>.public), and config's security.keys_dir and public_keys set to them, so
// that every ZeroMQ link of the cluster speaks CURVE. The error names keys_dir.
Status AddClusterKeys(ClusterConfig* config, const std::string& keys_dir);

}  // namespace duplex::lab
