#include "upgrade_coordinator/internal/cluster_hosts.h"

#include "upgrade_coordinator/internal/config_fields.h"

namespace duplex::config_fields {
namespace {

std::string HostNames(const ClusterConfig& config) {
  std::string names;
  for (const HostConfig& h : config.hosts) names += (names.empty() ? "" : ", ") + h.name;
  return names;
}

Status ReadHost(const YamlField& node, HostConfig* host) {
  if (!node.IsMap()) return node.WrongKind("a map of fields");
  DUPLEX_RETURN_IF_ERROR(node.CheckKeys({"name", "address", "data_dir"}));
  DUPLEX_RETURN_IF_ERROR(node["name"].ReadRequiredText(&host->name));
  DUPLEX_RETURN_IF_ERROR(CheckName(node["name"], host->name));
  DUPLEX_RETURN_IF_ERROR(node["address"].ReadRequiredText(&host->address));
  DUPLEX_RETURN_IF_ERROR(CheckHost(node["address"], host->address));
  return node["data_dir"].ReadText(&host->data_dir);
}

Status ReadHostList(const YamlField& list, ClusterConfig* config) {
  if (!list.IsList() || list.size() == 0) return list.WrongKind("a non-empty list");
  for (std::size_t i = 0; i < list.size(); ++i) {
    HostConfig host;
    DUPLEX_RETURN_IF_ERROR(ReadHost(list[i], &host));
    for (const HostConfig& earlier : config->hosts) {
      if (earlier.name == host.name) {
        return list[i]["name"].Error(Quote(host.name) + " is used twice");
      }
      if (earlier.address == host.address) {
        return list[i]["address"].Error(Quote(host.address) + " is already host " + earlier.name +
                                        "'s");
      }
    }
    config->hosts.push_back(std::move(host));
  }
  config->hosts_named = true;
  return Status::Ok();
}

// One coordinator for now; the high-availability issue allows three.
Status ReadCoordinators(const YamlField& root, ClusterConfig* config) {
  const YamlField list = root["coordinators"];
  if (!list.written()) return Status::Ok();
  if (!list.IsList()) return list.WrongKind("a list");
  if (list.size() != 1) {
    return list.Error("exactly one coordinator for now, got " + std::to_string(list.size()));
  }
  for (const char* key : {"host", "admin_port", "control_port"}) {
    if (root[key].written()) {
      return root[key].Error("the coordinator is described in coordinators: already");
    }
  }
  const YamlField entry = list[std::size_t{0}];
  if (!entry.IsMap()) return entry.WrongKind("a map of fields");
  DUPLEX_RETURN_IF_ERROR(entry.CheckKeys({"host", "admin_port", "control_port"}));
  DUPLEX_RETURN_IF_ERROR(entry["host"].ReadRequiredText(&config->coordinator_host));
  const HostConfig* host = FindHost(*config, config->coordinator_host);
  if (host == nullptr || !config->hosts_named) {
    return entry["host"].Error(Quote(config->coordinator_host) + " is not one of hosts (" +
                               (config->hosts_named ? HostNames(*config) : "none named") + ")");
  }
  config->host = host->address;
  DUPLEX_RETURN_IF_ERROR(ReadPort(entry["admin_port"], true, &config->admin_port));
  return ReadPort(entry["control_port"], true, &config->control_port);
}

}  // namespace

Status ReadHosts(const YamlField& root, ClusterConfig* config) {
  const YamlField list = root["hosts"];
  if (list.written()) {
    DUPLEX_RETURN_IF_ERROR(ReadHostList(list, config));
  } else {
    config->hosts = {HostConfig{kImpliedHostName, config->host, ""}};
  }
  DUPLEX_RETURN_IF_ERROR(ReadCoordinators(root, config));
  if (!root["coordinators"].written()) {
    DUPLEX_RETURN_IF_ERROR(ReadPort(root["admin_port"], true, &config->admin_port));
    DUPLEX_RETURN_IF_ERROR(ReadPort(root["control_port"], true, &config->control_port));
  }
  return Status::Ok();
}

Status PlaceReplicas(const YamlField& root, ClusterConfig* config) {
  for (std::size_t i = 0; i < config->replicas.size(); ++i) {
    ReplicaConfig& replica = config->replicas[i];
    const YamlField field = root["replicas"][i]["host"];
    if (!config->hosts_named) {
      replica.host_name = kImpliedHostName;  // `host:` is an address, as before hosts
      continue;
    }
    if (!field.written()) return field.Error("required: one of hosts (" + HostNames(*config) + ")");
    const HostConfig* host = FindHost(*config, replica.host);
    if (host == nullptr) {
      return field.Error(Quote(replica.host) + " is not one of hosts (" + HostNames(*config) + ")");
    }
    replica.host_name = host->name;
    replica.host = host->address;
  }
  return Status::Ok();
}

Status ReadAgent(const YamlField& root, AgentConfig* agent) {
  StatusOr<YamlField> map = Section(
      root, "agent", false, {"heartbeat_ms", "distribute_bytes_per_s", "restart_when_alone"});
  if (!map.ok()) return map.status();
  DUPLEX_RETURN_IF_ERROR(ReadCount((*map)["heartbeat_ms"], Zero::kRejected, &agent->heartbeat_ms));
  DUPLEX_RETURN_IF_ERROR(
      ReadCount((*map)["distribute_bytes_per_s"], Zero::kRejected, &agent->distribute_bytes_per_s));
  const YamlField alone = (*map)["restart_when_alone"];
  if (alone.written() && !alone.Convert(&agent->restart_when_alone)) {
    return alone.WrongKind("true or false");
  }
  return Status::Ok();
}

void WriteHosts(YamlWriter& out, const ClusterConfig& config) {
  if (!config.hosts_named) return;
  out.Key("hosts");
  out.BeginList();
  for (const HostConfig& h : config.hosts) {
    out.BeginMap();
    out.Field("name", h.name);
    out.Field("address", h.address);
    if (!h.data_dir.empty()) out.Field("data_dir", h.data_dir);
    out.EndMap();
  }
  out.EndList();
  if (config.coordinator_host.empty()) return;
  out.Key("coordinators");
  out.BeginList();
  out.BeginMap();
  out.Field("host", config.coordinator_host);
  out.Field("admin_port", config.admin_port);
  out.Field("control_port", config.control_port);
  out.EndMap();
  out.EndList();
}

}  // namespace duplex::config_fields
