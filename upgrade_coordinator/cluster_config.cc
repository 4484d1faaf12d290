// Reads and writes the cluster YAML. This is the only file that sees yaml-cpp: every yaml-cpp
// exception is caught here and becomes an InvalidArgument that names the line or the field.
#include "upgrade_coordinator/cluster_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <memory>
#include <set>
#include <string_view>
#include <utility>

namespace duplex {
namespace {

namespace fs = std::filesystem;

using Keys = std::initializer_list<std::string_view>;

// A cluster config is a page of YAML; anything this large is the wrong file.
constexpr std::size_t kMaxConfigBytes = 1 << 20;
constexpr std::size_t kMaxNameChars = 32;
constexpr std::size_t kMaxHostChars = 253;
constexpr std::array<std::string_view, 6> kLogLevels = {"trace", "debug", "info",
                                                        "warn",  "error", "off"};

// ---- Messages ----

std::string Join(const std::string& path, std::string_view key) {
  std::string joined = path;
  if (!joined.empty()) joined += '.';
  joined += key;
  return joined;
}

std::string Quote(std::string_view text) { return "\"" + std::string(text) + "\""; }

// What a node holds, for the "got ..." part of a message.
const char* KindName(const YAML::Node& node) {
  if (node.IsMap()) return "a map";
  if (node.IsSequence()) return "a list";
  if (node.IsScalar()) return "a single value";
  return "nothing";
}

// Every message starts with the field path; the document itself is "config".
Status Error(const std::string& field, const std::string& what) {
  return InvalidArgument((field.empty() ? std::string("config") : field) + ": " + what);
}

// yaml-cpp counts lines from 0; editors count from 1.
std::string LineOf(const YAML::Mark& mark) { return "line " + std::to_string(mark.line + 1); }

Status FromYamlException(const YAML::Exception& e) {
  if (e.mark.is_null()) return InvalidArgument(e.msg);
  return InvalidArgument(LineOf(e.mark) + ": " + e.msg);
}

// ---- Value checks ----

bool IsName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameChars) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

Status CheckName(const std::string& field, const std::string& name) {
  if (IsName(name)) return Status::Ok();
  return Error(field, Quote(name) + " is not a name ([a-z0-9_-]{1,32})");
}

// Host names and IPv4/IPv6 literals; rejects spaces, slashes and URLs pasted in by mistake.
Status CheckHost(const std::string& field, const std::string& host) {
  const bool ok = !host.empty() && host.size() <= kMaxHostChars &&
                  std::all_of(host.begin(), host.end(), [](char c) {
                    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_' || c == ':';
                  });
  if (ok) return Status::Ok();
  return Error(field, Quote(host) + " is not a host name or address");
}

Status CheckVersion(const std::string& field, const std::string& version) {
  int parts = 0;
  std::size_t digits = 0;
  bool ok = true;
  for (char c : version) {
    if (c == '.') {
      ok = ok && digits > 0;
      ++parts;
      digits = 0;
    } else {
      ok = ok && c >= '0' && c <= '9';
      ++digits;
    }
  }
  if (ok && digits > 0 && parts == 2) return Status::Ok();
  return Error(field, Quote(version) + " is not a version (MAJOR.MINOR.PATCH)");
}

Status CheckLogLevel(const std::string& field, const std::string& level) {
  if (std::find(kLogLevels.begin(), kLogLevels.end(), level) != kLogLevels.end()) {
    return Status::Ok();
  }
  return Error(field, "must be one of trace|debug|info|warn|error|off, got " + Quote(level));
}

// ---- Field readers: an absent optional key leaves the default in place ----

// Rejects keys outside `known`, so a typo ("leese_ms") is an error rather than a silently kept
// default, and keys written twice, which yaml-cpp would otherwise resolve silently.
Status CheckKeys(const YAML::Node& map, const std::string& path, Keys known) {
  std::set<std::string> seen;
  for (const auto& entry : map) {
    if (!entry.first.IsScalar()) {
      return Error(path, LineOf(entry.first.Mark()) + ": field names must be plain words");
    }
    const std::string& key = entry.first.Scalar();
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return Error(Join(path, key), "unknown field");
    }
    if (!seen.insert(key).second) return Error(Join(path, key), "appears twice");
  }
  return Status::Ok();
}

bool IsMissing(const YAML::Node& value) { return !value.IsDefined() || value.IsNull(); }

Status ReadString(const YAML::Node& map, const std::string& path, const char* key,
                  std::string* out) {
  const YAML::Node value = map[key];
  if (!value.IsDefined()) return Status::Ok();
  if (!value.IsScalar()) {
    return Error(Join(path, key), std::string("must be a string, got ") + KindName(value));
  }
  *out = value.Scalar();
  return Status::Ok();
}

Status ReadRequiredString(const YAML::Node& map, const std::string& path, const char* key,
                          std::string* out) {
  const YAML::Node value = map[key];
  if (IsMissing(value) || (value.IsScalar() && value.Scalar().empty())) {
    return Error(Join(path, key), "required");
  }
  return ReadString(map, path, key, out);
}

// Plain decimal only: YAML 1.1 spellings such as 0x1F or 1_000 are likelier typos than intent.
Status ParseInteger(const YAML::Node& value, const std::string& field, const std::string& expected,
                    int64_t* out) {
  if (!value.IsScalar()) return Error(field, "must be " + expected + ", got " + KindName(value));
  const std::string& text = value.Scalar();
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, *out);
  if (ec == std::errc::result_out_of_range) return Error(field, text + " is too large");
  if (ec != std::errc() || ptr != end) {
    return Error(field, "must be " + expected + ", got " + Quote(text));
  }
  return Status::Ok();
}

enum class Zero { kAllowed, kRejected };

template <typename T>
Status ReadCount(const YAML::Node& map, const std::string& path, const char* key, Zero zero,
                 T* out) {
  const YAML::Node value = map[key];
  if (!value.IsDefined()) return Status::Ok();
  const std::string field = Join(path, key);
  const std::string expected =
      zero == Zero::kAllowed ? "a non-negative integer" : "a positive integer";
  int64_t number = 0;
  DUPLEX_RETURN_IF_ERROR(ParseInteger(value, field, expected, &number));
  if (number < (zero == Zero::kAllowed ? 0 : 1)) {
    return Error(field, "must be " + expected + ", got " + std::to_string(number));
  }
  constexpr uint64_t kMax =
      std::min<uint64_t>(std::numeric_limits<T>::max(), std::numeric_limits<int64_t>::max());
  if (static_cast<uint64_t>(number) > kMax) {
    return Error(field,
                 "must be at most " + std::to_string(kMax) + ", got " + std::to_string(number));
  }
  *out = static_cast<T>(number);
  return Status::Ok();
}

// Port 0 ("any free port") is for configs built in code by tests; a file names real ports.
Status ReadPort(const YAML::Node& map, const std::string& path, const char* key, bool required,
                int* out) {
  const YAML::Node value = map[key];
  const std::string field = Join(path, key);
  if (required && IsMissing(value)) return Error(field, "required");
  if (!value.IsDefined()) return Status::Ok();
  int64_t port = 0;
  DUPLEX_RETURN_IF_ERROR(ParseInteger(value, field, "a port number (1..65535)", &port));
  if (port < 1 || port > 65535) {
    return Error(field, std::to_string(port) + " is not a port (1..65535)");
  }
  *out = static_cast<int>(port);
  return Status::Ok();
}

// A section is a map of known fields. An optional one may be absent or empty (`timing:`), which
// keeps every default: reading fields from a null node finds none.
StatusOr<YAML::Node> Section(const YAML::Node& root, const char* key, bool required, Keys known) {
  const YAML::Node value = root[key];
  if (IsMissing(value)) {
    if (required) return Error(key, "required");
    return YAML::Node();
  }
  if (!value.IsMap())
    return Error(key, std::string("must be a map of fields, got ") + KindName(value));
  DUPLEX_RETURN_IF_ERROR(CheckKeys(value, key, known));
  return value;
}

// ---- Sections ----

Status ReadProcessor(const YAML::Node& root, ProcessorConfig* processor) {
  StatusOr<YAML::Node> map = Section(root, "processor", true, {"binary", "version"});
  if (!map.ok()) return map.status();
  DUPLEX_RETURN_IF_ERROR(ReadRequiredString(*map, "processor", "binary", &processor->binary));
  DUPLEX_RETURN_IF_ERROR(ReadRequiredString(*map, "processor", "version", &processor->version));
  return CheckVersion("processor.version", processor->version);
}

Status ReadReplica(const YAML::Node& node, const std::string& path, ReplicaConfig* replica) {
  if (!node.IsMap())
    return Error(path, std::string("must be a map of fields, got ") + KindName(node));
  DUPLEX_RETURN_IF_ERROR(CheckKeys(node, path,
                                   {"name", "host", "port", "client_port", "http_port", "peer_port",
                                    "coordinator_port", "fault_file"}));
  DUPLEX_RETURN_IF_ERROR(ReadRequiredString(node, path, "name", &replica->name));
  DUPLEX_RETURN_IF_ERROR(CheckName(Join(path, "name"), replica->name));
  DUPLEX_RETURN_IF_ERROR(ReadString(node, path, "host", &replica->host));
  DUPLEX_RETURN_IF_ERROR(CheckHost(Join(path, "host"), replica->host));
  DUPLEX_RETURN_IF_ERROR(ReadPort(node, path, "port", true, &replica->port));
  DUPLEX_RETURN_IF_ERROR(ReadPort(node, path, "client_port", true, &replica->client_port));
  DUPLEX_RETURN_IF_ERROR(ReadPort(node, path, "peer_port", false, &replica->peer_port));
  DUPLEX_RETURN_IF_ERROR(
      ReadPort(node, path, "coordinator_port", false, &replica->coordinator_port));
  DUPLEX_RETURN_IF_ERROR(ReadString(node, path, "fault_file", &replica->fault_file));
  return ReadPort(node, path, "http_port", true, &replica->http_port);
}

// A replica without its own host runs on the cluster's host, as in the one-machine demo.
Status ReadReplicas(const YAML::Node& root, const std::string& default_host,
                    std::vector<ReplicaConfig>* replicas) {
  const YAML::Node list = root["replicas"];
  if (IsMissing(list)) return Error("replicas", "required");
  if (!list.IsSequence())
    return Error("replicas", std::string("must be a list, got ") + KindName(list));
  if (list.size() != 2) {
    return Error("replicas", "a pair needs exactly 2 replicas, got " + std::to_string(list.size()));
  }
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string path = "replicas[" + std::to_string(i) + "]";
    ReplicaConfig replica;
    replica.host = default_host;
    DUPLEX_RETURN_IF_ERROR(ReadReplica(list[i], path, &replica));
    for (std::size_t j = 0; j < i; ++j) {
      if ((*replicas)[j].name == replica.name) {
        return Error(Join(path, "name"), Quote(replica.name) + " is used twice");
      }
    }
    replicas->push_back(std::move(replica));
  }
  return Status::Ok();
}

Status ReadTiming(const YAML::Node& root, TimingConfig* timing) {
  StatusOr<YAML::Node> map = Section(root, "timing", false,
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
    DUPLEX_RETURN_IF_ERROR(ReadCount(*map, "timing", key, Zero::kRejected, out));
  }
  // A lease must outlive a few lost heartbeats, or one delayed packet costs the active its lease;
  // the coordinator must not suspect a replica before the same few heartbeats are missed.
  const int64_t three_beats = 3 * int64_t{timing->heartbeat_ms};
  const std::string beats =
      " 3 x heartbeat_ms (" + std::to_string(timing->heartbeat_ms) + "), got ";
  if (timing->lease_ms <= three_beats) {
    return Error("timing.lease_ms", "must be more than" + beats + std::to_string(timing->lease_ms));
  }
  if (timing->failure_timeout_ms < three_beats) {
    return Error("timing.failure_timeout_ms",
                 "must be at least" + beats + std::to_string(timing->failure_timeout_ms));
  }
  return Status::Ok();
}

Status ReadRestart(const YAML::Node& root, RestartConfig* restart) {
  StatusOr<YAML::Node> map =
      Section(root, "restart", false, {"max_restarts", "window_s", "backoff_ms"});
  if (!map.ok()) return map.status();
  // Zero restarts (the first crash marks the replica failed) and zero backoff are meaningful.
  DUPLEX_RETURN_IF_ERROR(
      ReadCount(*map, "restart", "max_restarts", Zero::kAllowed, &restart->max_restarts));
  DUPLEX_RETURN_IF_ERROR(
      ReadCount(*map, "restart", "window_s", Zero::kRejected, &restart->window_s));
  return ReadCount(*map, "restart", "backoff_ms", Zero::kAllowed, &restart->backoff_ms);
}

Status ReadReplicationMode(const YAML::Node& map, ReplicationMode* mode) {
  std::string text;
  DUPLEX_RETURN_IF_ERROR(ReadString(map, "replication", "mode", &text));
  if (text.empty() && !map["mode"].IsDefined()) return Status::Ok();
  if (text == "sync") {
    *mode = ReplicationMode::kSync;
  } else if (text == "async") {
    *mode = ReplicationMode::kAsync;
  } else {
    return Error("replication.mode", "must be sync or async, got " + Quote(text));
  }
  return Status::Ok();
}

Status ReadReplication(const YAML::Node& root, ReplicationConfig* replication) {
  StatusOr<YAML::Node> map =
      Section(root, "replication", false,
              {"mode", "max_lag_ops", "log_retain_ops", "max_batch_ops", "snapshot_chunk_bytes",
               "max_frame_bytes", "max_queue", "session_expiry_ms"});
  if (!map.ok()) return map.status();
  DUPLEX_RETURN_IF_ERROR(ReadReplicationMode(*map, &replication->mode));
  const std::pair<const char*, uint64_t*> fields[] = {
      {"max_lag_ops", &replication->max_lag_ops},
      {"log_retain_ops", &replication->log_retain_ops},
      {"max_batch_ops", &replication->max_batch_ops},
      {"snapshot_chunk_bytes", &replication->snapshot_chunk_bytes},
      {"max_frame_bytes", &replication->max_frame_bytes},
      {"max_queue", &replication->max_queue}};
  for (const auto& [key, out] : fields) {
    DUPLEX_RETURN_IF_ERROR(ReadCount(*map, "replication", key, Zero::kRejected, out));
  }
  DUPLEX_RETURN_IF_ERROR(ReadCount(*map, "replication", "session_expiry_ms", Zero::kAllowed,
                                   &replication->session_expiry_ms));  // 0: never
  // A snapshot chunk travels in one frame together with its header.
  if (replication->snapshot_chunk_bytes >= replication->max_frame_bytes) {
    return Error("replication.snapshot_chunk_bytes",
                 "must be less than max_frame_bytes (" +
                     std::to_string(replication->max_frame_bytes) + "), got " +
                     std::to_string(replication->snapshot_chunk_bytes));
  }
  return Status::Ok();
}

// Every port is bound on the same machine in the demo, so any two equal ports would clash.
Status CheckPortsDistinct(const ClusterConfig& config) {
  std::vector<std::pair<std::string, int>> ports = {{"admin_port", config.admin_port},
                                                    {"control_port", config.control_port}};
  for (std::size_t i = 0; i < config.replicas.size(); ++i) {
    const std::string path = "replicas[" + std::to_string(i) + "]";
    ports.emplace_back(path + ".port", config.replicas[i].port);
    ports.emplace_back(path + ".client_port", config.replicas[i].client_port);
    ports.emplace_back(path + ".http_port", config.replicas[i].http_port);
    ports.emplace_back(path + ".peer_port", config.replicas[i].peer_port);
    ports.emplace_back(path + ".coordinator_port", config.replicas[i].coordinator_port);
  }
  for (std::size_t i = 0; i < ports.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (ports[i].second != 0 && ports[i].second == ports[j].second) {
        return Error(ports[i].first,
                     std::to_string(ports[i].second) + " is already used by " + ports[j].first);
      }
    }
  }
  return Status::Ok();
}

Status ReadTopLevel(const YAML::Node& root, ClusterConfig* config) {
  DUPLEX_RETURN_IF_ERROR(
      CheckKeys(root, "",
                {"name", "data_dir", "host", "admin_port", "control_port", "log_level", "processor",
                 "replicas", "timing", "restart", "replication"}));
  DUPLEX_RETURN_IF_ERROR(ReadRequiredString(root, "", "name", &config->name));
  DUPLEX_RETURN_IF_ERROR(CheckName("name", config->name));
  DUPLEX_RETURN_IF_ERROR(ReadString(root, "", "data_dir", &config->data_dir));
  if (config->data_dir.empty()) return Error("data_dir", "required");
  DUPLEX_RETURN_IF_ERROR(ReadString(root, "", "host", &config->host));
  DUPLEX_RETURN_IF_ERROR(CheckHost("host", config->host));
  DUPLEX_RETURN_IF_ERROR(ReadPort(root, "", "admin_port", true, &config->admin_port));
  DUPLEX_RETURN_IF_ERROR(ReadPort(root, "", "control_port", true, &config->control_port));
  DUPLEX_RETURN_IF_ERROR(ReadString(root, "", "log_level", &config->log_level));
  DUPLEX_RETURN_IF_ERROR(CheckLogLevel("log_level", config->log_level));
  DUPLEX_RETURN_IF_ERROR(ReadProcessor(root, &config->processor));
  DUPLEX_RETURN_IF_ERROR(ReadReplicas(root, config->host, &config->replicas));
  DUPLEX_RETURN_IF_ERROR(CheckPortsDistinct(*config));
  DUPLEX_RETURN_IF_ERROR(ReadTiming(root, &config->timing));
  DUPLEX_RETURN_IF_ERROR(ReadRestart(root, &config->restart));
  return ReadReplication(root, &config->replication);
}

// May throw YAML::Exception; the caller converts it.
Status ReadDocument(const std::string& yaml_text, ClusterConfig* config) {
  const std::vector<YAML::Node> documents = YAML::LoadAll(yaml_text);
  if (documents.size() > 1) {
    return Error("", "holds " + std::to_string(documents.size()) +
                         " YAML documents (separated by ---), expected one");
  }
  // An empty file is an empty map, so the message is the useful "name: required".
  YAML::Node root = documents.empty() ? YAML::Node() : documents.front();
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap())
    return Error("", std::string("must be a map of fields, got ") + KindName(root));
  return ReadTopLevel(root, config);
}

// ---- Paths and files ----

// Relative paths are relative to the config file, so the demo runs from any working directory.
Status ResolvePath(const fs::path& base_dir, const char* field, std::string* path) {
  if (path->empty()) return Status::Ok();
  std::error_code ec;
  const fs::path absolute = fs::absolute(base_dir / *path, ec);
  if (ec) return Error(field, "cannot make " + Quote(*path) + " absolute: " + ec.message());
  *path = absolute.lexically_normal().string();
  return Status::Ok();
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
    if (text.size() > kMaxConfigBytes) {
      return InvalidArgument(path + ": larger than " + std::to_string(kMaxConfigBytes) +
                             " bytes, not a cluster config");
    }
  }
  if (std::ferror(file.get()) != 0) {
    return IOError(path + ": cannot read: " + std::strerror(errno));
  }
  return text;
}

// ---- Emitting ----

template <typename T>
void Emit(YAML::Emitter& out, const char* key, const T& value) {
  out << YAML::Key << key << YAML::Value << value;
}

// Unset ports (0) are left out: a file may not say 0, and leaving them out parses back to 0.
void EmitPort(YAML::Emitter& out, const char* key, int port) {
  if (port != 0) Emit(out, key, port);
}

void EmitReplica(YAML::Emitter& out, const ReplicaConfig& replica) {
  out << YAML::BeginMap;
  Emit(out, "name", replica.name);
  Emit(out, "host", replica.host);
  EmitPort(out, "port", replica.port);
  EmitPort(out, "client_port", replica.client_port);
  EmitPort(out, "http_port", replica.http_port);
  EmitPort(out, "peer_port", replica.peer_port);
  EmitPort(out, "coordinator_port", replica.coordinator_port);
  if (!replica.fault_file.empty()) Emit(out, "fault_file", replica.fault_file);
  out << YAML::EndMap;
}

void EmitSections(YAML::Emitter& out, const ClusterConfig& config) {
  const TimingConfig& t = config.timing;
  out << YAML::Key << "timing" << YAML::Value << YAML::BeginMap;
  Emit(out, "heartbeat_ms", t.heartbeat_ms);
  Emit(out, "lease_ms", t.lease_ms);
  Emit(out, "failure_timeout_ms", t.failure_timeout_ms);
  Emit(out, "ack_timeout_ms", t.ack_timeout_ms);
  Emit(out, "client_timeout_ms", t.client_timeout_ms);
  Emit(out, "startup_timeout_ms", t.startup_timeout_ms);
  out << YAML::EndMap;
  const RestartConfig& r = config.restart;
  out << YAML::Key << "restart" << YAML::Value << YAML::BeginMap;
  Emit(out, "max_restarts", r.max_restarts);
  Emit(out, "window_s", r.window_s);
  Emit(out, "backoff_ms", r.backoff_ms);
  out << YAML::EndMap;
  const ReplicationConfig& p = config.replication;
  out << YAML::Key << "replication" << YAML::Value << YAML::BeginMap;
  Emit(out, "mode", p.mode == ReplicationMode::kSync ? "sync" : "async");
  Emit(out, "max_lag_ops", p.max_lag_ops);
  Emit(out, "log_retain_ops", p.log_retain_ops);
  Emit(out, "max_batch_ops", p.max_batch_ops);
  Emit(out, "snapshot_chunk_bytes", p.snapshot_chunk_bytes);
  Emit(out, "max_frame_bytes", p.max_frame_bytes);
  Emit(out, "max_queue", p.max_queue);
  Emit(out, "session_expiry_ms", p.session_expiry_ms);
  out << YAML::EndMap;
}

}  // namespace

StatusOr<ClusterConfig> ParseClusterConfig(const std::string& yaml_text,
                                           const std::string& base_dir) {
  ClusterConfig config;
  try {
    DUPLEX_RETURN_IF_ERROR(ReadDocument(yaml_text, &config));
  } catch (const YAML::Exception& e) {
    return FromYamlException(e);
  }
  DUPLEX_RETURN_IF_ERROR(ResolvePath(base_dir, "data_dir", &config.data_dir));
  DUPLEX_RETURN_IF_ERROR(ResolvePath(base_dir, "processor.binary", &config.processor.binary));
  return config;
}

// Errors carry the file's path in front ("cluster.yaml: replicas[1].port: ..."), as compilers do.
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
  YAML::Emitter out;
  out << YAML::BeginMap;
  Emit(out, "name", config.name);
  if (!config.data_dir.empty()) Emit(out, "data_dir", config.data_dir);
  Emit(out, "host", config.host);
  EmitPort(out, "admin_port", config.admin_port);
  EmitPort(out, "control_port", config.control_port);
  Emit(out, "log_level", config.log_level);
  out << YAML::Key << "processor" << YAML::Value << YAML::BeginMap;
  Emit(out, "binary", config.processor.binary);
  Emit(out, "version", config.processor.version);
  out << YAML::EndMap;
  out << YAML::Key << "replicas" << YAML::Value << YAML::BeginSeq;
  for (const ReplicaConfig& replica : config.replicas) EmitReplica(out, replica);
  out << YAML::EndSeq;
  EmitSections(out, config);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace duplex
