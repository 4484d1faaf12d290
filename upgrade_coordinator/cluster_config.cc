// Reads and writes the cluster YAML through common/yaml_fields.h; every error is an
// InvalidArgument that names the line or the field.
#include "upgrade_coordinator/cluster_config.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <string_view>
#include <utility>

#include "common/assert.h"
#include "common/net.h"
#include "common/yaml_fields.h"
#include "upgrade_coordinator/internal/cluster_hosts.h"
#include "upgrade_coordinator/internal/config_fields.h"
#include "upgrade_coordinator/security_config.h"

namespace duplex {
namespace {

namespace fs = std::filesystem;
using config_fields::CheckHost;
using config_fields::CheckLogLevel;
using config_fields::CheckName;
using config_fields::CheckVersion;
using config_fields::IsName;
using config_fields::PlaceReplicas;
using config_fields::Quote;
using config_fields::ReadAgent;
using config_fields::ReadCount;
using config_fields::ReadHosts;
using config_fields::ReadPort;
using config_fields::Section;
using config_fields::WriteHosts;
using config_fields::WriteRecords;
using config_fields::Zero;

using Keys = YamlField::Keys;

// A cluster config is a page of YAML; anything this large is the wrong file.
constexpr std::size_t kConfigBytesMax = 1 << 20;

// The defaults pass the checks ReadTiming and ReadReplication make of a file's values.
static_assert(TimingConfig{}.lease_ms > 3 * TimingConfig{}.heartbeat_ms);
static_assert(TimingConfig{}.failure_timeout_ms >= 3 * TimingConfig{}.heartbeat_ms);
static_assert(ReplicationConfig{}.snapshot_chunk_bytes < ReplicationConfig{}.frame_bytes_max);
// A standby lagging by as much as async mode allows can still catch up from the log tail.
static_assert(ReplicationConfig{}.lag_ops_max < ReplicationConfig{}.log_retain_ops);
// A group commit never holds more deltas than the log keeps.
static_assert(ReplicationConfig{}.batch_ops_max < ReplicationConfig{}.log_retain_ops);

// ---- Sections ----

Status ReadProcessor(const YamlField& root, ProcessorConfig* processor) {
  StatusOr<YamlField> map = Section(root, "processor", true, {"binary", "version"});
  if (!map.ok()) return map.status();
  DUPLEX_RETURN_IF_ERROR((*map)["binary"].ReadRequiredText(&processor->binary));
  DUPLEX_RETURN_IF_ERROR((*map)["version"].ReadRequiredText(&processor->version));
  return CheckVersion((*map)["version"], processor->version);
}

Status ReadReplica(const YamlField& node, ReplicaConfig* replica) {
  if (!node.IsMap()) return node.WrongKind("a map of fields");
  DUPLEX_RETURN_IF_ERROR(node.CheckKeys({"name", "host", "port", "client_port", "http_port",
                                         "peer_port", "coordinator_port", "fault_file"}));
  DUPLEX_RETURN_IF_ERROR(node["name"].ReadRequiredText(&replica->name));
  DUPLEX_RETURN_IF_ERROR(CheckName(node["name"], replica->name));
  DUPLEX_RETURN_IF_ERROR(node["host"].ReadText(&replica->host));
  DUPLEX_RETURN_IF_ERROR(CheckHost(node["host"], replica->host));
  DUPLEX_RETURN_IF_ERROR(ReadPort(node["port"], true, &replica->port));
  DUPLEX_RETURN_IF_ERROR(ReadPort(node["client_port"], true, &replica->client_port));
  DUPLEX_RETURN_IF_ERROR(ReadPort(node["peer_port"], false, &replica->peer_port));
  DUPLEX_RETURN_IF_ERROR(ReadPort(node["coordinator_port"], false, &replica->coordinator_port));
  DUPLEX_RETURN_IF_ERROR(node["fault_file"].ReadText(&replica->fault_file));
  return ReadPort(node["http_port"], true, &replica->http_port);
}

// A replica without its own host runs on the cluster's host, as in the one-machine demo.
Status ReadReplicas(const YamlField& root, const std::string& default_host,
                    std::vector<ReplicaConfig>* replicas) {
  const YamlField list = root["replicas"];
  if (list.missing()) return list.Error("required");
  if (!list.IsList()) return list.WrongKind("a list");
  if (list.size() != 2) {
    return list.Error("a pair needs exactly 2 replicas, got " + std::to_string(list.size()));
  }
  for (std::size_t i = 0; i < list.size(); ++i) {
    ReplicaConfig replica;
    replica.host = default_host;
    DUPLEX_RETURN_IF_ERROR(ReadReplica(list[i], &replica));
    for (std::size_t j = 0; j < i; ++j) {
      if ((*replicas)[j].name == replica.name) {
        return list[i]["name"].Error(Quote(replica.name) + " is used twice");
      }
    }
    replicas->push_back(std::move(replica));
  }
  return Status::Ok();
}

Status ReadTiming(const YamlField& root, TimingConfig* timing) {
  StatusOr<YamlField> map = Section(root, "timing", false,
                                    {"heartbeat_ms", "lease_ms", "failure_timeout_ms",
                                     "ack_timeout_ms", "client_timeout_ms", "startup_timeout_ms"});
  if (!map.ok()) return map.status();
  const std::pair<const char*, int*> fields[] = {
      {"heartbeat_ms", &timing->heartbeat_ms},
      {"lease_ms", &timing->lease_ms},
      {"failure_timeout_ms", &timing->failure_timeout_ms},
      {"ack_timeout_ms", &timing->ack_timeout_ms},
      {"client_timeout_ms", &timing->client_timeout_ms},
      {"startup_timeout_ms", &timing->startup_timeout_ms}};
  for (const auto& [key, out] : fields) {
    DUPLEX_RETURN_IF_ERROR(ReadCount((*map)[key], Zero::kRejected, out));
  }
  // A lease must outlive a few lost heartbeats, or one delayed packet costs the active its lease;
  // the coordinator must not suspect a replica before the same few heartbeats are missed.
  const int64_t three_beats = 3 * int64_t{timing->heartbeat_ms};
  const std::string beats =
      " 3 x heartbeat_ms (" + std::to_string(timing->heartbeat_ms) + "), got ";
  if (timing->lease_ms <= three_beats) {
    return (*map)["lease_ms"].Error("must be more than" + beats + std::to_string(timing->lease_ms));
  }
  if (timing->failure_timeout_ms < three_beats) {
    return (*map)["failure_timeout_ms"].Error("must be at least" + beats +
                                              std::to_string(timing->failure_timeout_ms));
  }
  return Status::Ok();
}

Status ReadRestart(const YamlField& root, RestartConfig* restart) {
  StatusOr<YamlField> map =
      Section(root, "restart", false, {"max_restarts", "window_s", "backoff_ms", "backoff_max_ms"});
  if (!map.ok()) return map.status();
  // Zero restarts (the first crash marks the replica failed) and zero backoff are meaningful.
  DUPLEX_RETURN_IF_ERROR(ReadCount((*map)["max_restarts"], Zero::kAllowed, &restart->restarts_max));
  DUPLEX_RETURN_IF_ERROR(ReadCount((*map)["window_s"], Zero::kRejected, &restart->window_s));
  DUPLEX_RETURN_IF_ERROR(ReadCount((*map)["backoff_ms"], Zero::kAllowed, &restart->backoff_ms));
  return ReadCount((*map)["backoff_max_ms"], Zero::kAllowed, &restart->backoff_max_ms);
}

Status ReadReplicationMode(const YamlField& field, ReplicationMode* mode) {
  if (!field.written()) return Status::Ok();
  std::string text;
  DUPLEX_RETURN_IF_ERROR(field.ReadText(&text));
  if (text == "sync") {
    *mode = ReplicationMode::kSync;
  } else if (text == "async") {
    *mode = ReplicationMode::kAsync;
  } else {
    return field.Error("must be sync or async, got " + Quote(text));
  }
  return Status::Ok();
}

Status ReadReplication(const YamlField& root, ReplicationConfig* replication) {
  StatusOr<YamlField> map =
      Section(root, "replication", false,
              {"mode", "max_lag_ops", "log_retain_ops", "max_batch_ops", "snapshot_chunk_bytes",
               "max_frame_bytes", "max_queue", "session_expiry_ms"});
  if (!map.ok()) return map.status();
  DUPLEX_RETURN_IF_ERROR(ReadReplicationMode((*map)["mode"], &replication->mode));
  const std::pair<const char*, uint64_t*> fields[] = {
      {"max_lag_ops", &replication->lag_ops_max},
      {"log_retain_ops", &replication->log_retain_ops},
      {"max_batch_ops", &replication->batch_ops_max},
      {"snapshot_chunk_bytes", &replication->snapshot_chunk_bytes},
      {"max_frame_bytes", &replication->frame_bytes_max},
      {"max_queue", &replication->queue_max}};
  for (const auto& [key, out] : fields) {
    DUPLEX_RETURN_IF_ERROR(ReadCount((*map)[key], Zero::kRejected, out));
  }
  DUPLEX_RETURN_IF_ERROR(ReadCount((*map)["session_expiry_ms"], Zero::kAllowed,
                                   &replication->session_expiry_ms));  // 0: never
  // A snapshot chunk travels in one frame together with its header.
  if (replication->snapshot_chunk_bytes >= replication->frame_bytes_max) {
    return (*map)["snapshot_chunk_bytes"].Error(
        "must be less than max_frame_bytes (" + std::to_string(replication->frame_bytes_max) +
        "), got " + std::to_string(replication->snapshot_chunk_bytes));
  }
  return Status::Ok();
}

// Two equal ports on one address would clash (every port is on one address in the demo).
// peer_port and coordinator_port are where chaos proxies listen: on the connecting side's
// address, which is the same as the listener's on one machine, so they count everywhere.
Status CheckPortsDistinct(const ClusterConfig& config) {
  struct Port {
    std::string path;
    std::string address;  // "" = any
    int port;
  };
  std::vector<Port> ports;
  for (std::size_t i = 0; i < config.coordinators.size(); ++i) {
    const CoordinatorConfig& c = config.coordinators[i];
    const std::string path = config.coordinator_host.empty()
                                 ? std::string()
                                 : "coordinators[" + std::to_string(i) + "].";
    ports.push_back({path + "admin_port", c.address, c.admin_port});
    ports.push_back({path + "control_port", c.address, c.control_port});
  }
  for (std::size_t i = 0; i < config.replicas.size(); ++i) {
    const std::string path = "replicas[" + std::to_string(i) + "]";
    const ReplicaConfig& r = config.replicas[i];
    ports.push_back({path + ".port", r.host, r.port});
    ports.push_back({path + ".client_port", r.host, r.client_port});
    ports.push_back({path + ".http_port", r.host, r.http_port});
    ports.push_back({path + ".peer_port", "", r.peer_port});
    ports.push_back({path + ".coordinator_port", "", r.coordinator_port});
  }
  for (std::size_t i = 0; i < ports.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      const bool same_address = ports[i].address.empty() || ports[j].address.empty() ||
                                ports[i].address == ports[j].address;
      if (ports[i].port != 0 && ports[i].port == ports[j].port && same_address) {
        return InvalidArgument(ports[i].path + ": " + std::to_string(ports[i].port) +
                               " is already used by " + ports[j].path);
      }
    }
  }
  return Status::Ok();
}

Status ReadTopLevel(const YamlField& root, ClusterConfig* config) {
  DUPLEX_RETURN_IF_ERROR(
      root.CheckKeys({"name", "data_dir", "host", "admin_port", "control_port", "log_level",
                      "processor", "hosts", "coordinators", "records", "replicas", "timing",
                      "restart", "replication", "agent", "security", "limits"}));
  DUPLEX_RETURN_IF_ERROR(root["name"].ReadRequiredText(&config->name));
  DUPLEX_RETURN_IF_ERROR(CheckName(root["name"], config->name));
  DUPLEX_RETURN_IF_ERROR(root["data_dir"].ReadText(&config->data_dir));
  if (config->data_dir.empty()) return root["data_dir"].Error("required");
  DUPLEX_RETURN_IF_ERROR(root["host"].ReadText(&config->host));
  DUPLEX_RETURN_IF_ERROR(CheckHost(root["host"], config->host));
  DUPLEX_RETURN_IF_ERROR(ReadHosts(root, config));
  DUPLEX_RETURN_IF_ERROR(root["log_level"].ReadText(&config->log_level));
  DUPLEX_RETURN_IF_ERROR(CheckLogLevel(root["log_level"], config->log_level));
  DUPLEX_RETURN_IF_ERROR(ReadProcessor(root, &config->processor));
  DUPLEX_RETURN_IF_ERROR(ReadReplicas(root, config->host, &config->replicas));
  DUPLEX_RETURN_IF_ERROR(PlaceReplicas(root, config));
  DUPLEX_RETURN_IF_ERROR(CheckPortsDistinct(*config));
  DUPLEX_RETURN_IF_ERROR(ReadTiming(root, &config->timing));
  DUPLEX_RETURN_IF_ERROR(ReadRestart(root, &config->restart));
  DUPLEX_RETURN_IF_ERROR(ReadAgent(root, &config->agent));
  DUPLEX_RETURN_IF_ERROR(ReadSecurity(root, &config->security));
  DUPLEX_RETURN_IF_ERROR(ReadLimits(root, &config->limits));
  return ReadReplication(root, &config->replication);
}

Status ReadDocument(const std::string& yaml_text, ClusterConfig* config) {
  StatusOr<YamlField> root = YamlField::Parse(yaml_text, "config");
  if (!root.ok()) return root.status();
  if (!root->IsMap()) return root->WrongKind("a map of fields");
  return ReadTopLevel(*root, config);
}

// ---- Paths and files ----

// Relative paths are relative to the config file, so the demo runs from any working directory.
Status ResolvePath(const fs::path& base_dir, const char* field, std::string* path) {
  if (path->empty()) return Status::Ok();
  std::error_code ec;
  const fs::path absolute = fs::absolute(base_dir / *path, ec);
  if (ec) {
    return InvalidArgument(std::string(field) + ": cannot make " + Quote(*path) +
                           " absolute: " + ec.message());
  }
  *path = absolute.lexically_normal().string();
  return Status::Ok();
}

Status ResolveSecurityPaths(const fs::path& base_dir, SecurityConfig* s) {
  DUPLEX_RETURN_IF_ERROR(ResolvePath(base_dir, "security.keys_dir", &s->keys_dir));
  DUPLEX_RETURN_IF_ERROR(ResolvePath(base_dir, "security.admin_token_file", &s->admin_token_file));
  DUPLEX_RETURN_IF_ERROR(
      ResolvePath(base_dir, "security.client_password_file", &s->client_password_file));
  DUPLEX_RETURN_IF_ERROR(ResolvePath(base_dir, "security.package_dir", &s->package_dir));
  if (!s->tls) return Status::Ok();
  DUPLEX_RETURN_IF_ERROR(ResolvePath(base_dir, "security.tls.cert_file", &s->tls->cert_file));
  DUPLEX_RETURN_IF_ERROR(ResolvePath(base_dir, "security.tls.key_file", &s->tls->key_file));
  return ResolvePath(base_dir, "security.tls.ca_file", &s->tls->ca_file);
}

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

// stdio rather than iostreams because errno then names the reason.
StatusOr<std::string> ReadFile(const std::string& path) {
  errno = 0;
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (file == nullptr) return IOError(path + ": cannot read: " + std::strerror(errno));
  std::string text;
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) {
    text.append(buffer, n);
    if (text.size() > kConfigBytesMax) {
      return InvalidArgument(path + ": larger than " + std::to_string(kConfigBytesMax) +
                             " bytes, not a cluster config");
    }
  }
  if (std::ferror(file.get()) != 0) {
    return IOError(path + ": cannot read: " + std::strerror(errno));
  }
  return text;
}

// ---- Postconditions ----

bool IsPort(int port) { return port >= 1 && port <= 65535; }

// What a config that passed every check guarantees: ports in range and distinct, names unique,
// timings in the relations the replicas and the coordinator rely on. The checks above are the
// errors a user sees; these restate their result, so a check lost in an edit shows up here.
void AssertValid(const ClusterConfig& config) {
  DUPLEX_ASSERT(IsName(config.name), "a cluster has a name", config.name);
  DUPLEX_ASSERT(fs::path(config.data_dir).is_absolute(), "data_dir is resolved", config.data_dir);
  DUPLEX_ASSERT(IsPort(config.admin_port) && IsPort(config.control_port),
                "the coordinator's ports are real ports", config.admin_port, config.control_port);
  DUPLEX_ASSERT(config.replicas.size() == 2, "a pair is two replicas", config.replicas.size());
  DUPLEX_ASSERT(config.replicas[0].name != config.replicas[1].name, "replica names are unique",
                config.replicas[0].name);
  for (const ReplicaConfig& r : config.replicas) {
    DUPLEX_ASSERT(IsName(r.name) && !r.host.empty(), "a replica has a name and a host", r.name);
    DUPLEX_ASSERT(FindHost(config, r.host_name) != nullptr &&
                      (!config.hosts_named || FindHost(config, r.host_name)->address == r.host),
                  "a replica is placed on a host and binds its address", r.name, r.host_name);
    DUPLEX_ASSERT(IsPort(r.port) && IsPort(r.client_port) && IsPort(r.http_port),
                  "a replica's required ports are real ports", r.name, r.port, r.client_port,
                  r.http_port);
    DUPLEX_ASSERT(r.peer_port == 0 || IsPort(r.peer_port), "peer_port is unset or real", r.name,
                  r.peer_port);
    DUPLEX_ASSERT(r.coordinator_port == 0 || IsPort(r.coordinator_port),
                  "coordinator_port is unset or real", r.name, r.coordinator_port);
  }
  DUPLEX_ASSERT(CheckPortsDistinct(config).ok(), "no two ports are equal", config.name);
  const TimingConfig& t = config.timing;
  DUPLEX_ASSERT(t.heartbeat_ms >= 1 && t.ack_timeout_ms >= 1 && t.client_timeout_ms >= 1 &&
                    t.startup_timeout_ms >= 1,
                "every timing is positive", t.heartbeat_ms, t.ack_timeout_ms, t.client_timeout_ms,
                t.startup_timeout_ms);
  DUPLEX_ASSERT(int64_t{t.lease_ms} > 3 * int64_t{t.heartbeat_ms},
                "a lease outlives three heartbeats", t.lease_ms, t.heartbeat_ms);
  DUPLEX_ASSERT(int64_t{t.failure_timeout_ms} >= 3 * int64_t{t.heartbeat_ms},
                "the coordinator waits three heartbeats before suspecting", t.failure_timeout_ms,
                t.heartbeat_ms);
  const RestartConfig& r = config.restart;
  DUPLEX_ASSERT(r.restarts_max >= 0 && r.window_s >= 1 && r.backoff_ms >= 0,
                "the restart policy counts in a real window", r.restarts_max, r.window_s,
                r.backoff_ms);
  const ReplicationConfig& p = config.replication;
  DUPLEX_ASSERT(
      p.lag_ops_max >= 1 && p.log_retain_ops >= 1 && p.batch_ops_max >= 1 && p.queue_max >= 1,
      "every replication bound is positive", p.lag_ops_max, p.log_retain_ops, p.batch_ops_max,
      p.queue_max);
  DUPLEX_ASSERT(p.snapshot_chunk_bytes >= 1 && p.snapshot_chunk_bytes < p.frame_bytes_max,
                "a snapshot chunk fits one frame", p.snapshot_chunk_bytes, p.frame_bytes_max);
}

// ---- Emitting ----

// Unset ports (0) are left out: a file may not say 0, and leaving them out parses back to 0.
void WritePort(YamlWriter& out, std::string_view key, int port) {
  if (port != 0) out.Field(key, port);
}

void WriteReplica(YamlWriter& out, const ClusterConfig& config, const ReplicaConfig& replica) {
  out.BeginMap();
  out.Field("name", replica.name);
  out.Field("host", config.hosts_named ? replica.host_name : replica.host);
  WritePort(out, "port", replica.port);
  WritePort(out, "client_port", replica.client_port);
  WritePort(out, "http_port", replica.http_port);
  WritePort(out, "peer_port", replica.peer_port);
  WritePort(out, "coordinator_port", replica.coordinator_port);
  if (!replica.fault_file.empty()) out.Field("fault_file", replica.fault_file);
  out.EndMap();
}

void WriteSections(YamlWriter& out, const ClusterConfig& config) {
  const TimingConfig& t = config.timing;
  out.Key("timing");
  out.BeginMap();
  out.Field("heartbeat_ms", t.heartbeat_ms);
  out.Field("lease_ms", t.lease_ms);
  out.Field("failure_timeout_ms", t.failure_timeout_ms);
  out.Field("ack_timeout_ms", t.ack_timeout_ms);
  out.Field("client_timeout_ms", t.client_timeout_ms);
  out.Field("startup_timeout_ms", t.startup_timeout_ms);
  out.EndMap();
  const RestartConfig& r = config.restart;
  out.Key("restart");
  out.BeginMap();
  out.Field("max_restarts", r.restarts_max);
  out.Field("window_s", r.window_s);
  out.Field("backoff_ms", r.backoff_ms);
  out.Field("backoff_max_ms", r.backoff_max_ms);
  out.EndMap();
  const ReplicationConfig& p = config.replication;
  out.Key("replication");
  out.BeginMap();
  out.Field("mode", p.mode == ReplicationMode::kSync ? "sync" : "async");
  out.Field("max_lag_ops", p.lag_ops_max);
  out.Field("log_retain_ops", p.log_retain_ops);
  out.Field("max_batch_ops", p.batch_ops_max);
  out.Field("snapshot_chunk_bytes", p.snapshot_chunk_bytes);
  out.Field("max_frame_bytes", p.frame_bytes_max);
  out.Field("max_queue", p.queue_max);
  out.Field("session_expiry_ms", p.session_expiry_ms);
  out.EndMap();
  out.Key("agent");
  out.BeginMap();
  out.Field("heartbeat_ms", config.agent.heartbeat_ms);
  out.Field("distribute_bytes_per_s", config.agent.distribute_bytes_per_s);
  out.Field("restart_when_alone", config.agent.restart_when_alone ? "true" : "false");
  out.EndMap();
}

}  // namespace

std::string HostDataDir(const ClusterConfig& config, const HostConfig& host) {
  if (!host.data_dir.empty()) return host.data_dir;
  return config.hosts_named ? config.data_dir + "/" + host.name : config.data_dir;
}

std::string CoordinatorDataDir(const ClusterConfig& config) {
  const HostConfig* host = FindHost(config, config.coordinator_host);
  if (config.coordinator_host.empty() || host == nullptr) return config.data_dir;
  return HostDataDir(config, *host) + "/coordinator";
}

std::string ReplicaDataDir(const ClusterConfig& config, const ReplicaConfig& replica) {
  const HostConfig* host = FindHost(config, replica.host_name);
  DUPLEX_ASSERT(host != nullptr, "a replica is placed on a host", replica.name, replica.host_name);
  return HostDataDir(config, *host) + "/" + replica.name;
}

std::vector<const ReplicaConfig*> ReplicasOn(const ClusterConfig& config, const std::string& host) {
  std::vector<const ReplicaConfig*> out;
  for (const ReplicaConfig& r : config.replicas) {
    if (r.host_name == host) out.push_back(&r);
  }
  return out;
}

std::vector<std::string> CoordinatorControlEndpoints(const ClusterConfig& config) {
  // One coordinator: the config's own fields, which fixtures and benchmarks set by hand
  // without a coordinators: list.
  if (config.coordinators.size() <= 1) return {TcpEndpoint(config.host, config.control_port)};
  std::vector<std::string> out;
  for (const CoordinatorConfig& c : config.coordinators) {
    out.push_back(TcpEndpoint(c.address, c.control_port));
  }
  return out;
}

StatusOr<ClusterConfig> ParseClusterConfig(const std::string& yaml_text,
                                           const std::string& base_dir) {
  ClusterConfig config;
  DUPLEX_RETURN_IF_ERROR(ReadDocument(yaml_text, &config));
  DUPLEX_RETURN_IF_ERROR(ResolvePath(base_dir, "data_dir", &config.data_dir));
  DUPLEX_RETURN_IF_ERROR(ResolvePath(base_dir, "processor.binary", &config.processor.binary));
  for (std::size_t i = 0; i < config.hosts.size(); ++i) {
    const std::string field = "hosts[" + std::to_string(i) + "].data_dir";
    DUPLEX_RETURN_IF_ERROR(ResolvePath(base_dir, field.c_str(), &config.hosts[i].data_dir));
  }
  DUPLEX_RETURN_IF_ERROR(ResolveSecurityPaths(base_dir, &config.security));
  AssertValid(config);
  return config;
}

// Errors carry the file's path in front ("cluster.yaml: replicas[1].port: ..."), as compilers do.
Status SelectCoordinator(ClusterConfig* config, const std::string& host_name) {
  return config_fields::Select(config, host_name);
}

StatusOr<ClusterConfig> LoadClusterConfig(const std::string& path) {
  StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  std::error_code ec;
  const fs::path absolute = fs::absolute(path, ec).lexically_normal();
  if (ec) return IOError(path + ": cannot make the path absolute: " + ec.message());
  StatusOr<ClusterConfig> config = ParseClusterConfig(*text, absolute.parent_path().string());
  if (!config.ok()) return Status(config.status().code(), path + ": " + config.status().message());
  config->source_path = absolute.string();
  return config;
}

std::string ClusterConfigToYaml(const ClusterConfig& config) {
  YamlWriter out;
  out.BeginMap();
  out.Field("name", config.name);
  if (!config.data_dir.empty()) out.Field("data_dir", config.data_dir);
  if (config.coordinator_host.empty()) {
    out.Field("host", config.host);
    WritePort(out, "admin_port", config.admin_port);
    WritePort(out, "control_port", config.control_port);
  }
  out.Field("log_level", config.log_level);
  out.Key("processor");
  out.BeginMap();
  out.Field("binary", config.processor.binary);
  out.Field("version", config.processor.version);
  out.EndMap();
  WriteHosts(out, config);
  WriteRecords(out, config);
  out.Key("replicas");
  out.BeginList();
  for (const ReplicaConfig& replica : config.replicas) WriteReplica(out, config, replica);
  out.EndList();
  WriteSections(out, config);
  WriteSecurity(out, config);
  out.EndMap();
  return out.Text();
}

}  // namespace duplex
