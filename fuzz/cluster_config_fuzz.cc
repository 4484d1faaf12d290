// Fuzzes ParseClusterConfig (upgrade_coordinator/cluster_config.h): the cluster's YAML, as an
// operator writes it and as `duplex up` hands it to the coordinator. A config that parses must
// be written back (ClusterConfigToYaml) as YAML that parses to the same config.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/assert.h"
#include "upgrade_coordinator/cluster_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto config = duplex::ParseClusterConfig(text, "/fuzz");
  if (!config.ok()) return 0;
  // ClusterConfig has no operator==: its YAML form stands for it.
  const std::string yaml = duplex::ClusterConfigToYaml(*config);
  auto again = duplex::ParseClusterConfig(yaml, "/fuzz");
  DUPLEX_ASSERT(again.ok(), "the written config does not parse:", again.status().ToString(), "\n",
                yaml);
  DUPLEX_ASSERT(duplex::ClusterConfigToYaml(*again) == yaml, "the round trip changed the config",
                "\n", yaml);
  return 0;
}
