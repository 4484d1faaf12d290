#include "upgrade_coordinator/curve_config.h"

#include "upgrade_coordinator/security_config.h"

namespace duplex {
namespace {

std::string SecretFile(const ClusterConfig& config, const std::string& member) {
  return config.security.keys_dir + "/" + member + ".secret";
}

}  // namespace

bool CurveConfigured(const ClusterConfig& config) { return config.security.curve(); }

Status CheckCurveConfig(const ClusterConfig& config) {
  if (!CurveConfigured(config)) return Status::Ok();
  for (const auto& [member, key] : config.security.public_keys) {
    DUPLEX_RETURN_IF_ERROR(CheckCurveKey(key, "security.public_keys." + member));
  }
  for (const std::string& member : ClusterMembers(config)) {
    if (config.security.public_keys.count(member) == 0) {
      return InvalidArgument("security.public_keys: no key for " + member +
                             " (`duplex keys init` makes one for every member)");
    }
  }
  if (config.security.keys_dir.empty()) {
    return InvalidArgument("security.keys_dir: required with public_keys (where secret keys are)");
  }
  return Status::Ok();
}

StatusOr<CurveSettings> CurveSettingsFor(const ClusterConfig& config, const std::string& member) {
  if (!CurveConfigured(config)) return CurveSettings{};
  DUPLEX_RETURN_IF_ERROR(CheckCurveConfig(config));
  StatusOr<std::string> secret = ReadCurveSecretFile(SecretFile(config, member));
  if (!secret.ok()) return secret.status();
  return CurveSettings{member, *secret, config.security.public_keys};
}

StatusOr<CurveSettings> CoordinatorCurve(const ClusterConfig& config) {
  CoordinatorConfig self;  // this process's entry: its host, "" with no hosts named
  self.host_name = config.coordinator_host;
  return CurveSettingsFor(config, CoordinatorMember(self));
}

StatusOr<CurveSettings> AgentCurve(const ClusterConfig& config, const std::string& host) {
  return CurveSettingsFor(config, AgentMember(host));
}

std::vector<std::string> CoordinatorMembers(const ClusterConfig& config) {
  // As ClusterMembers names them: "coordinator.local" for the embedded one.
  if (config.coordinators.empty()) return {CoordinatorMember(CoordinatorConfig{})};
  std::vector<std::string> out;
  for (const CoordinatorConfig& c : config.coordinators) out.push_back(CoordinatorMember(c));
  return out;
}

std::vector<std::string> ReplicaCurveArgs(const ClusterConfig& config,
                                          const ReplicaConfig& replica) {
  if (!CurveConfigured(config)) return {};
  std::string coordinators;
  for (const std::string& m : CoordinatorMembers(config)) {
    coordinators += (coordinators.empty() ? "" : ",") + m;
  }
  return {"--curve-secret-file",  SecretFile(config, ReplicaMember(replica.name)),
          "--curve-keys",         FormatCurveKeys(config.security.public_keys),
          "--curve-coordinators", coordinators};
}

}  // namespace duplex
