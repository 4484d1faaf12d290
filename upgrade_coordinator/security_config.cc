#include "upgrade_coordinator/security_config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "replica/zmq_util.h"
#include "upgrade_coordinator/internal/config_fields.h"
#include "upgrade_coordinator/limits_config.h"

namespace duplex {
namespace {

namespace fs = std::filesystem;
using config_fields::Quote;
using config_fields::ReadCount;
using config_fields::Section;
using config_fields::Zero;

constexpr std::size_t kZ85KeyChars = 40;
constexpr std::size_t kPackageKeyHexChars = 64;

const char* ClientCertsName(ClientCerts certs) {
  switch (certs) {
    case ClientCerts::kNone:
      return "none";
    case ClientCerts::kOptional:
      return "optional";
    case ClientCerts::kRequired:
      return "required";
  }
  return "none";
}

// Writes a new file with `mode`, refusing one that exists.
Status WriteNewFile(const std::string& path, const std::string& text, mode_t mode) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == EEXIST) return FailedPrecondition(path + ": exists; remove it to make a new key");
    return IOError(path + ": " + std::strerror(errno));
  }
  const ssize_t written = write(fd, text.data(), text.size());
  const bool ok = written == static_cast<ssize_t>(text.size()) && fsync(fd) == 0;
  close(fd);
  if (!ok) return IOError(path + ": write failed");
  return Status::Ok();
}

Status ReadPublicKeys(const YamlField& keys, std::map<std::string, std::string>* out) {
  if (!keys.written()) return Status::Ok();
  if (!keys.IsMap()) return keys.WrongKind("a map of member: public key");
  for (const std::string& member : keys.MapKeys()) {
    const YamlField key = keys[member];
    std::string z85;
    DUPLEX_RETURN_IF_ERROR(key.ReadRequiredText(&z85, "a Z85 CURVE public key"));
    if (z85.size() != kZ85KeyChars) {
      return key.Error("must be a Z85 CURVE public key (40 characters), got " +
                       std::to_string(z85.size()) + " characters");
    }
    if (!out->emplace(member, z85).second) return key.Error("appears twice");
  }
  return Status::Ok();
}

Status ReadTls(const YamlField& security, std::optional<TlsConfig>* out) {
  StatusOr<YamlField> map =
      Section(security, "tls", false,
              {"cert_file", "key_file", "ca_file", "client_certs", "client_port", "http"});
  if (!map.ok()) return map.status();
  if (map->missing()) return Status::Ok();
  TlsConfig tls;
  DUPLEX_RETURN_IF_ERROR((*map)["cert_file"].ReadRequiredText(&tls.cert_file));
  DUPLEX_RETURN_IF_ERROR((*map)["key_file"].ReadRequiredText(&tls.key_file));
  DUPLEX_RETURN_IF_ERROR((*map)["ca_file"].ReadText(&tls.ca_file));
  std::string certs = "none";
  DUPLEX_RETURN_IF_ERROR((*map)["client_certs"].ReadText(&certs));
  if (certs == "none") {
    tls.client_certs = ClientCerts::kNone;
  } else if (certs == "optional") {
    tls.client_certs = ClientCerts::kOptional;
  } else if (certs == "required") {
    tls.client_certs = ClientCerts::kRequired;
  } else {
    return (*map)["client_certs"].Error("must be none|optional|required, got " + Quote(certs));
  }
  if (tls.client_certs != ClientCerts::kNone && tls.ca_file.empty()) {
    return (*map)["ca_file"].Error("required to verify client certificates");
  }
  for (auto [key, flag] : {std::pair{"client_port", &tls.client_port}, {"http", &tls.http}}) {
    const YamlField field = (*map)[key];
    if (field.written() && !field.Convert(flag)) return field.WrongKind("true or false");
  }
  *out = std::move(tls);
  return Status::Ok();
}

Status ReadPackageKeys(const YamlField& keys, std::vector<std::string>* out) {
  if (!keys.written()) return Status::Ok();
  if (!keys.Convert(out)) return keys.WrongKind("a list of Ed25519 public keys (hex)");
  for (std::size_t i = 0; i < out->size(); ++i) {
    const std::string& key = (*out)[i];
    const bool hex = key.size() == kPackageKeyHexChars &&
                     key.find_first_not_of("0123456789abcdef") == std::string::npos;
    if (!hex) {
      return keys[i].Error(Quote(key) + " is not an Ed25519 public key (64 lowercase hex chars)");
    }
  }
  return Status::Ok();
}

}  // namespace

std::string CoordinatorMember(const CoordinatorConfig& coordinator) {
  return "coordinator." +
         (coordinator.host_name.empty() ? std::string(kImpliedHostName) : coordinator.host_name);
}

std::vector<std::string> ClusterMembers(const ClusterConfig& config) {
  std::vector<std::string> members;
  for (const ReplicaConfig& replica : config.replicas) {
    members.push_back(ReplicaMember(replica.name));
  }
  for (const HostConfig& host : config.hosts) members.push_back(AgentMember(host.name));
  if (config.coordinators.empty()) {
    members.push_back(CoordinatorMember(CoordinatorConfig{}));
  }
  for (const CoordinatorConfig& c : config.coordinators) members.push_back(CoordinatorMember(c));
  return members;
}

StatusOr<std::map<std::string, std::string>> InitClusterKeys(const ClusterConfig& config,
                                                             const std::string& keys_dir) {
  std::error_code ec;
  fs::create_directories(keys_dir, ec);
  if (ec) return IOError(keys_dir + ": cannot create: " + ec.message());
  fs::permissions(keys_dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  std::map<std::string, std::string> public_keys;
  for (const std::string& member : ClusterMembers(config)) {
    const CurveKeyPair pair = NewCurveKeyPair();
    const std::string base = keys_dir + "/" + member;
    DUPLEX_RETURN_IF_ERROR(WriteNewFile(base + ".secret", pair.secret_key + "\n", 0600));
    DUPLEX_RETURN_IF_ERROR(WriteNewFile(base + ".public", pair.public_key + "\n", 0644));
    public_keys[member] = pair.public_key;
  }
  return public_keys;
}

Status ReadSecurity(const YamlField& root, SecurityConfig* security) {
  StatusOr<YamlField> map = Section(root, "security", false,
                                    {"keys_dir", "public_keys", "admin_token_file", "open_health",
                                     "client_password_file", "tls", "package_keys", "package_dir"});
  if (!map.ok()) return map.status();
  const YamlField& s = *map;
  DUPLEX_RETURN_IF_ERROR(s["keys_dir"].ReadText(&security->keys_dir));
  DUPLEX_RETURN_IF_ERROR(ReadPublicKeys(s["public_keys"], &security->public_keys));
  if (security->curve() && security->keys_dir.empty()) {
    return s["keys_dir"].Error("required with public_keys (where each member's secret key is)");
  }
  DUPLEX_RETURN_IF_ERROR(s["admin_token_file"].ReadText(&security->admin_token_file));
  const YamlField open = s["open_health"];
  if (open.written() && !open.Convert(&security->open_health)) {
    return open.WrongKind("true or false");
  }
  DUPLEX_RETURN_IF_ERROR(s["client_password_file"].ReadText(&security->client_password_file));
  DUPLEX_RETURN_IF_ERROR(ReadTls(s, &security->tls));
  DUPLEX_RETURN_IF_ERROR(ReadPackageKeys(s["package_keys"], &security->package_keys));
  return s["package_dir"].ReadText(&security->package_dir);
}

Status ReadLimits(const YamlField& root, LimitsConfig* limits) {
  StatusOr<YamlField> map =
      Section(root, "limits", false,
              {"client_connections_max", "client_idle_timeout_ms", "client_partial_frame_ms",
               "client_input_bytes_max", "http_body_bytes_max", "package_bytes_max",
               "admin_jobs_max", "zmq_parts_max", "epoch_step_max"});
  if (!map.ok()) return map.status();
  const std::pair<const char*, uint64_t*> fields[] = {
      {"client_connections_max", &limits->client_connections_max},
      {"client_idle_timeout_ms", &limits->client_idle_timeout_ms},
      {"client_partial_frame_ms", &limits->client_partial_frame_ms},
      {"client_input_bytes_max", &limits->client_input_bytes_max},
      {"http_body_bytes_max", &limits->http_body_bytes_max},
      {"package_bytes_max", &limits->package_bytes_max},
      {"admin_jobs_max", &limits->admin_jobs_max},
      {"zmq_parts_max", &limits->zmq_parts_max},
      {"epoch_step_max", &limits->epoch_step_max}};
  for (const auto& [key, out] : fields) {
    DUPLEX_RETURN_IF_ERROR(ReadCount((*map)[key], Zero::kRejected, out));
  }
  return CheckLimits(*map, *limits);  // ranges beyond positive (limits_config.h)
}

namespace {

void WriteTls(YamlWriter& out, const TlsConfig& tls) {
  out.Key("tls");
  out.BeginMap();
  out.Field("cert_file", tls.cert_file);
  out.Field("key_file", tls.key_file);
  if (!tls.ca_file.empty()) out.Field("ca_file", tls.ca_file);
  out.Field("client_certs", ClientCertsName(tls.client_certs));
  out.Field("client_port", tls.client_port ? "true" : "false");
  out.Field("http", tls.http ? "true" : "false");
  out.EndMap();
}

void WriteSecuritySection(YamlWriter& out, const SecurityConfig& s) {
  out.Key("security");
  out.BeginMap();
  if (!s.keys_dir.empty()) out.Field("keys_dir", s.keys_dir);
  if (!s.public_keys.empty()) {
    out.Key("public_keys");
    out.BeginMap();
    for (const auto& [member, key] : s.public_keys) out.Field(member, key);
    out.EndMap();
  }
  if (!s.admin_token_file.empty()) out.Field("admin_token_file", s.admin_token_file);
  out.Field("open_health", s.open_health ? "true" : "false");
  if (!s.client_password_file.empty()) out.Field("client_password_file", s.client_password_file);
  if (s.tls) WriteTls(out, *s.tls);
  if (!s.package_keys.empty()) {
    out.Key("package_keys");
    out.BeginList();
    for (const std::string& key : s.package_keys) out.Value(key);
    out.EndList();
  }
  if (!s.package_dir.empty()) out.Field("package_dir", s.package_dir);
  out.EndMap();
}

}  // namespace

void WriteSecurity(YamlWriter& out, const ClusterConfig& config) {
  const SecurityConfig& s = config.security;
  const bool written = !s.keys_dir.empty() || s.curve() || !s.admin_token_file.empty() ||
                       !s.open_health || !s.client_password_file.empty() || s.tls ||
                       !s.package_keys.empty() || !s.package_dir.empty();
  if (written) WriteSecuritySection(out, s);
  const LimitsConfig& l = config.limits;
  out.Key("limits");
  out.BeginMap();
  out.Field("client_connections_max", l.client_connections_max);
  out.Field("client_idle_timeout_ms", l.client_idle_timeout_ms);
  out.Field("client_partial_frame_ms", l.client_partial_frame_ms);
  out.Field("client_input_bytes_max", l.client_input_bytes_max);
  out.Field("http_body_bytes_max", l.http_body_bytes_max);
  out.Field("package_bytes_max", l.package_bytes_max);
  out.Field("admin_jobs_max", l.admin_jobs_max);
  out.Field("zmq_parts_max", l.zmq_parts_max);
  out.Field("epoch_step_max", l.epoch_step_max);
  out.EndMap();
}

}  // namespace duplex
