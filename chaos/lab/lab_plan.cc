#include "chaos/lab/lab_plan.h"

#include <charconv>
#include <filesystem>

#include "chaos/lab/lab_keys.h"
#include "chaos/lab/nft_isolation.h"
#include "common/assert.h"
#include "common/sha256.h"

namespace duplex::lab {
namespace {

namespace fs = std::filesystem;

std::string Address(int n) { return "127.0." + std::to_string(n) + ".1"; }

std::string HostNames(const ClusterConfig& config) {
  std::string names;
  for (const HostConfig& h : config.hosts) names += (names.empty() ? "" : ", ") + h.name;
  return names;
}

bool AddressTaken(const ClusterConfig& config, const std::string& address) {
  for (const HostConfig& h : config.hosts) {
    if (h.address == address) return true;
  }
  return false;
}

// A coordinator on no lab host listens at the config's `host:`: on this machine (127/8),
// and outside every lab host, or isolating that host would isolate the coordinator too.
Status CheckCoordinatorOutside(const ClusterConfig& config) {
  const bool loopback = config.host.starts_with("127.");
  if (loopback && !AddressTaken(config, config.host)) return Status::Ok();
  return InvalidArgument("host: " + config.host +
                         ": a coordinator on no lab host listens here, which must be a loopback "
                         "address outside the lab's hosts (127.0.0.1); or place it on a host "
                         "with coordinators:");
}

// Named hosts: each must be 127.0.N.1; --hosts may add empty ones (h<k> at 127.0.k.1).
Status PlanNamedHosts(const LabUpOptions& options, LabPlan* plan) {
  ClusterConfig& config = plan->config;
  for (std::size_t i = 0; i < config.hosts.size(); ++i) {
    if (LabHostNumber(config.hosts[i].address) == 0) {
      return InvalidArgument("hosts[" + std::to_string(i) + "].address: " +
                             config.hosts[i].address + ": the lab runs hosts on 127.0.N.1 only");
    }
  }
  const int named = static_cast<int>(config.hosts.size());
  if (options.hosts != 0 && options.hosts < named) {
    return InvalidArgument("--hosts " + std::to_string(options.hosts) + ": the config names " +
                           std::to_string(named) + " hosts (" + HostNames(config) +
                           "); give at least that many");
  }
  for (int k = 1; k <= kLabHostsMax && static_cast<int>(config.hosts.size()) < options.hosts; ++k) {
    const std::string name = "h" + std::to_string(k);
    if (FindHost(config, name) != nullptr || AddressTaken(config, Address(k))) continue;
    config.hosts.push_back(HostConfig{name, Address(k), ""});
    plan->derived = true;
  }
  if (static_cast<int>(config.hosts.size()) < options.hosts) {
    return InvalidArgument("--hosts " + std::to_string(options.hosts) +
                           ": no free host name h<k> at a free 127.0.k.1 for the hosts to add");
  }
  if (config.coordinator_host.empty()) return CheckCoordinatorOutside(config);
  return Status::Ok();
}

// No hosts named: h1..hN, replica 0 on h1 and 1 on h2, the coordinator on hN from three
// hosts on (with two it stays at `host:`, outside both), every file under <lab dir>/data.
Status PlanDerivedHosts(const LabUpOptions& options, LabPlan* plan) {
  ClusterConfig& config = plan->config;
  const std::string where = config.source_path.empty() ? "the config" : config.source_path;
  if (options.hosts == 0) {
    return InvalidArgument("--hosts N (2.." + std::to_string(kLabHostsMax) +
                           ") is required: " + where + " names no hosts (hosts:)");
  }
  config.hosts.clear();
  const int first = options.first_host_number;
  if (first < 1 || first + options.hosts - 1 > kLabHostsMax) {
    return InvalidArgument("first host number " + std::to_string(first) + ": hosts 127.0." +
                           std::to_string(first) + ".1 onwards leave no room for " +
                           std::to_string(options.hosts) + " hosts within 127.0.1.1 .. 127.0." +
                           std::to_string(kLabHostsMax) + ".1");
  }
  for (int k = 1; k <= options.hosts; ++k) {
    config.hosts.push_back(HostConfig{"h" + std::to_string(k), Address(first + k - 1), ""});
  }
  config.hosts_named = true;
  config.data_dir = plan->dir + "/data";
  for (std::size_t i = 0; i < config.replicas.size(); ++i) {
    config.replicas[i].host_name = config.hosts[i].name;
    config.replicas[i].host = config.hosts[i].address;
  }
  plan->derived = true;
  if (options.hosts == 2) {
    config.coordinator_host.clear();
    return CheckCoordinatorOutside(config);
  }
  config.coordinator_host = config.hosts.back().name;
  config.host = config.hosts.back().address;
  config.coordinators = {CoordinatorConfig{config.coordinator_host, config.host, config.admin_port,
                                           config.control_port}};
  return Status::Ok();
}

std::string Url(const std::string& address, int port) {
  return "http://" + address + ":" + std::to_string(port);
}

// The config's ports on a host's address that an etcd member must not take.
Status CheckEtcdPort(const ClusterConfig& config, const std::string& flag, int port) {
  if (port < 1 || port > 65535)
    return InvalidArgument(flag + " " + std::to_string(port) + ": not a port");
  if (port == config.admin_port || port == config.control_port) {
    return InvalidArgument(flag + " " + std::to_string(port) +
                           ": the coordinators' admin_port or control_port");
  }
  for (const ReplicaConfig& r : config.replicas) {
    for (int taken : {r.port, r.client_port, r.http_port}) {
      if (port == taken) {
        return InvalidArgument(flag + " " + std::to_string(port) + ": a port of replica " + r.name);
      }
    }
  }
  return Status::Ok();
}

// The coordinators on h1..h3 and the records in etcd, as the config spells them; `host:`
// and the ports stay the first coordinator's.
void SetEtcdRecords(const std::string& lab_id, const std::vector<std::string>& endpoints,
                    ClusterConfig* config) {
  config->coordinators.clear();
  for (int k = 0; k < kLabCoordinatorsMax; ++k) {
    const HostConfig& host = config->hosts[static_cast<std::size_t>(k)];
    config->coordinators.push_back(
        CoordinatorConfig{host.name, host.address, config->admin_port, config->control_port});
  }
  config->coordinator_host = config->hosts[0].name;
  config->host = config->hosts[0].address;
  EtcdConfig etcd;
  etcd.endpoints = endpoints;
  etcd.prefix = "/duplex/" + lab_id;
  etcd.lease_ttl_s = kEtcdLeaseTtlS;
  config->etcd = etcd;
}

// --etcd: a member and a coordinator on each of h1..h3, the records in etcd.
Status PlanEtcd(const LabUpOptions& options, LabPlan* plan) {
  ClusterConfig& config = plan->config;
  if (options.hosts < kLabCoordinatorsMax) {
    return InvalidArgument(
        "--etcd needs --hosts 3 or more (an etcd member and a coordinator on "
        "each of three hosts), got " +
        std::to_string(options.hosts));
  }
  if (options.etcd_client_port == options.etcd_peer_port) {
    return InvalidArgument("--etcd: the client and peer ports are both " +
                           std::to_string(options.etcd_client_port));
  }
  DUPLEX_RETURN_IF_ERROR(CheckEtcdPort(config, "etcd client port", options.etcd_client_port));
  DUPLEX_RETURN_IF_ERROR(CheckEtcdPort(config, "etcd peer port", options.etcd_peer_port));
  plan->coordinators.clear();
  std::vector<std::string> endpoints;
  for (int k = 0; k < kLabCoordinatorsMax; ++k) {
    const HostConfig& host = config.hosts[static_cast<std::size_t>(k)];
    plan->coordinators.push_back(
        LabCoordinator{host.name, host.address + ":" + std::to_string(config.admin_port)});
    plan->etcd.push_back(LabEtcdMember{host.name, Url(host.address, options.etcd_client_port),
                                       Url(host.address, options.etcd_peer_port)});
    endpoints.push_back(plan->etcd.back().client_url);
  }
  SetEtcdRecords(plan->lab_id, endpoints, &config);
  return Status::Ok();
}

}  // namespace

std::string LabDir(const ClusterConfig& config, const std::string& dir_flag) {
  const std::string dir = dir_flag.empty() ? config.data_dir + "/lab" : dir_flag;
  std::error_code ec;
  const fs::path absolute = fs::absolute(dir, ec);
  return (ec ? fs::path(dir) : absolute).lexically_normal().string();
}

std::string LabId(const ClusterConfig& config, const std::string& lab_dir) {
  std::string id;
  for (char c : config.name) {
    if (id.size() == 20) break;
    const bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    id += keep ? c : (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : '_';
  }
  id += "_" + Sha256Hex(lab_dir).substr(0, 8);
  DUPLEX_ASSERT(IsLabId(id), "a lab id is safe for nft", id);
  return id;
}

int LabHostNumber(const std::string& address) {
  const std::string prefix = "127.0.";
  const std::string suffix = ".1";
  if (!address.starts_with(prefix) || !address.ends_with(suffix)) return 0;
  const std::size_t size = address.size() - prefix.size() - suffix.size();
  if (size == 0 || size > 3) return 0;
  const char* first = address.data() + prefix.size();
  if (*first == '0') return 0;  // no leading zeros: one spelling per host
  int n = 0;
  const auto [end, error] = std::from_chars(first, first + size, n);
  if (error != std::errc() || end != first + size) return 0;
  return n >= 1 && n <= kLabHostsMax ? n : 0;
}

StatusOr<LabPlan> PlanLab(const ClusterConfig& config, const LabUpOptions& options) {
  if (options.hosts != 0 && (options.hosts < 2 || options.hosts > kLabHostsMax)) {
    return InvalidArgument("--hosts " + std::to_string(options.hosts) + ": a lab has 2 to " +
                           std::to_string(kLabHostsMax) + " hosts");
  }
  LabPlan plan;
  plan.dir = LabDir(config, options.dir);
  plan.lab_id = LabId(config, plan.dir);
  plan.config = config;
  if (options.etcd && config.hosts_named) {
    return InvalidArgument(
        "--etcd: the lab derives its hosts, coordinators and etcd members, but " +
        (config.source_path.empty() ? std::string("the config") : config.source_path) +
        " names hosts (hosts:)");
  }
  DUPLEX_RETURN_IF_ERROR(config.hosts_named ? PlanNamedHosts(options, &plan)
                                            : PlanDerivedHosts(options, &plan));
  plan.coordinators = {
      LabCoordinator{plan.config.coordinator_host,
                     plan.config.host + ":" + std::to_string(plan.config.admin_port)}};
  if (options.etcd) DUPLEX_RETURN_IF_ERROR(PlanEtcd(options, &plan));
  if (config.source_path.empty()) plan.derived = true;  // there is no file to hand over
  if (plan.derived) {
    // The derived config must read back as itself: a port clash, say, is refused here
    // rather than by every process the lab would start.
    const std::string yaml = ClusterConfigToYaml(plan.config);
    StatusOr<ClusterConfig> again = ParseClusterConfig(yaml);
    if (!again.ok()) {
      return InvalidArgument("the lab's derived config is not valid: " + again.status().message());
    }
    plan.config_path = plan.dir + "/cluster.yaml";
    plan.config.source_path = plan.config_path;
    if (options.curve && !KeysCoverMembers(plan.config)) plan.keys_dir = plan.dir + "/keys";
  } else {
    plan.config_path = config.source_path;
  }
  return plan;
}

}  // namespace duplex::lab
