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

Status ReadCoordinator(const YamlField& entry, const ClusterConfig& config,
                       CoordinatorConfig* out) {
  if (!entry.IsMap()) return entry.WrongKind("a map of fields");
  DUPLEX_RETURN_IF_ERROR(entry.CheckKeys({"host", "admin_port", "control_port"}));
  DUPLEX_RETURN_IF_ERROR(entry["host"].ReadRequiredText(&out->host_name));
  const HostConfig* host = FindHost(config, out->host_name);
  if (host == nullptr || !config.hosts_named) {
    return entry["host"].Error(Quote(out->host_name) + " is not one of hosts (" +
                               (config.hosts_named ? HostNames(config) : "none named") + ")");
  }
  out->address = host->address;
  DUPLEX_RETURN_IF_ERROR(ReadPort(entry["admin_port"], true, &out->admin_port));
  return ReadPort(entry["control_port"], true, &out->control_port);
}

// One coordinator, or several that elect a leader in etcd (`records: {etcd: ...}`), each on a
// host of its own. The first is this process's until SelectCoordinator says otherwise.
Status ReadCoordinators(const YamlField& root, ClusterConfig* config) {
  const YamlField list = root["coordinators"];
  if (!list.written()) return Status::Ok();
  if (!list.IsList() || list.size() == 0) return list.WrongKind("a non-empty list");
  if (list.size() > kCoordinatorsMax) {
    return list.Error("at most " + std::to_string(kCoordinatorsMax) + " coordinators, got " +
                      std::to_string(list.size()));
  }
  for (const char* key : {"host", "admin_port", "control_port"}) {
    if (root[key].written()) {
      return root[key].Error("the coordinator is described in coordinators: already");
    }
  }
  for (std::size_t i = 0; i < list.size(); ++i) {
    CoordinatorConfig c;
    DUPLEX_RETURN_IF_ERROR(ReadCoordinator(list[i], *config, &c));
    for (const CoordinatorConfig& earlier : config->coordinators) {
      if (earlier.host_name == c.host_name) {
        return list[i]["host"].Error(Quote(c.host_name) + " already runs a coordinator");
      }
    }
    config->coordinators.push_back(std::move(c));
  }
  return Status::Ok();
}

// http://address:port: the etcd client speaks plain HTTP to the v3 gateway.
Status CheckEndpoint(const YamlField& field, const std::string& endpoint) {
  constexpr std::string_view kScheme = "http://";
  const std::size_t colon = endpoint.rfind(':');
  if (endpoint.rfind(kScheme, 0) != 0 || colon == std::string::npos || colon < kScheme.size()) {
    return field.Error(Quote(endpoint) + " is not http://address:port");
  }
  const std::string port = endpoint.substr(colon + 1);
  const bool digits = !port.empty() && port.size() <= 5 &&
                      port.find_first_not_of("0123456789") == std::string::npos;
  if (!digits || std::stoi(port) < 1 || std::stoi(port) > 65535) {
    return field.Error(Quote(endpoint) + ": " + Quote(port) + " is not a port (1..65535)");
  }
  return Status::Ok();
}

Status ReadEtcd(const YamlField& node, EtcdConfig* etcd) {
  if (!node.IsMap()) return node.WrongKind("a map of fields");
  DUPLEX_RETURN_IF_ERROR(node.CheckKeys({"endpoints", "prefix", "lease_ttl_s"}));
  const YamlField endpoints = node["endpoints"];
  if (!endpoints.written()) return endpoints.Error("required: a list of http://address:port");
  if (!endpoints.Convert(&etcd->endpoints) || etcd->endpoints.empty()) {
    return endpoints.WrongKind("a non-empty list of http://address:port");
  }
  for (std::size_t i = 0; i < etcd->endpoints.size(); ++i) {
    DUPLEX_RETURN_IF_ERROR(CheckEndpoint(endpoints[i], etcd->endpoints[i]));
  }
  DUPLEX_RETURN_IF_ERROR(node["prefix"].ReadRequiredText(&etcd->prefix));
  const std::string& p = etcd->prefix;
  if (p.front() != '/' || p.back() == '/' || p.find_first_of(" \t\n") != std::string::npos) {
    return node["prefix"].Error(Quote(p) +
                                " must start with '/', not end with one, and hold no "
                                "spaces (e.g. /duplex/kv-demo)");
  }
  return ReadCount(node["lease_ttl_s"], Zero::kRejected, &etcd->lease_ttl_s);
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
    CoordinatorConfig implied{"", config->host, 0, 0};
    DUPLEX_RETURN_IF_ERROR(ReadPort(root["admin_port"], true, &implied.admin_port));
    DUPLEX_RETURN_IF_ERROR(ReadPort(root["control_port"], true, &implied.control_port));
    config->coordinators = {implied};
  }
  DUPLEX_RETURN_IF_ERROR(Select(config, config->coordinators.front().host_name));
  return ReadRecords(root, config);
}

Status Select(ClusterConfig* config, const std::string& host_name) {
  for (const CoordinatorConfig& c : config->coordinators) {
    if (c.host_name != host_name) continue;
    config->coordinator_host = c.host_name;
    config->host = c.address;
    config->admin_port = c.admin_port;
    config->control_port = c.control_port;
    return Status::Ok();
  }
  std::string names;
  for (const CoordinatorConfig& c : config->coordinators) {
    names += (names.empty() ? "" : ", ") + c.host_name;
  }
  return InvalidArgument("no coordinator runs on host " + Quote(host_name) +
                         " (coordinators: " + names + ")");
}

Status ReadRecords(const YamlField& root, ClusterConfig* config) {
  StatusOr<YamlField> records = Section(root, "records", false, {"etcd"});
  if (!records.ok()) return records.status();
  const YamlField etcd = (*records)["etcd"];
  if (etcd.written()) {
    config->etcd.emplace();
    DUPLEX_RETURN_IF_ERROR(ReadEtcd(etcd, &*config->etcd));
  }
  if (config->coordinators.size() > 1 && !config->etcd) {
    return root["coordinators"].Error(
        std::to_string(config->coordinators.size()) +
        " coordinators elect their leader in etcd: records: {etcd: {endpoints: [...], prefix: "
        "...}} is required");
  }
  return Status::Ok();
}

Status PlaceReplicas(const YamlField& root, ClusterConfig* config) {
  for (std::size_t i = 0; i < config->replicas.size(); ++i) {
    ReplicaConfig& replica = config->replicas[i];
    if (replica.coordinator_port != 0 && config->coordinators.size() > 1) {
      return root["replicas"][i]["coordinator_port"].Error(
          "a proxy for the one coordinator; there are " +
          std::to_string(config->coordinators.size()));
    }
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
  // One coordinator: this process's fields are the truth (code that derives a config, the
  // lab's, sets them alone).
  std::vector<CoordinatorConfig> all = config.coordinators;
  if (all.size() <= 1) {
    all = {{config.coordinator_host, config.host, config.admin_port, config.control_port}};
  }
  for (const CoordinatorConfig& c : all) {
    out.BeginMap();
    out.Field("host", c.host_name);
    out.Field("admin_port", c.admin_port);
    out.Field("control_port", c.control_port);
    out.EndMap();
  }
  out.EndList();
}

void WriteRecords(YamlWriter& out, const ClusterConfig& config) {
  if (!config.etcd) return;
  out.Key("records");
  out.BeginMap();
  out.Key("etcd");
  out.BeginMap();
  out.Key("endpoints");
  out.BeginList();
  for (const std::string& e : config.etcd->endpoints) out.Value(e);
  out.EndList();
  out.Field("prefix", config.etcd->prefix);
  out.Field("lease_ttl_s", config.etcd->lease_ttl_s);
  out.EndMap();
  out.EndMap();
}

}  // namespace duplex::config_fields
