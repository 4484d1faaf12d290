#include "cli/keys_command.h"

#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>

#include "common/yaml_fields.h"
#include "replica/tls.h"
#include "upgrade_coordinator/security_config.h"

namespace duplex::cli {
namespace {

namespace fs = std::filesystem;

// The admin token and the client password (32 random bytes each, hex), and with --tls the
// CA and the certificates (replica/tls.h): what `security:` names beside the CURVE keys.
struct Credentials {
  std::string admin_token_file;
  std::string client_password_file;
  std::string tls_dir;  // "" without --tls
};

Status WriteSecret(const std::string& path) {
  auto secret = RandomHex(32);
  if (!secret.ok()) return secret.status();
  std::error_code ec;
  fs::remove(path, ec);
  // Created 0600: no moment where another user may read it.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return IOError("cannot write " + path);
  const std::string text = *secret + "\n";
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return written ? Status::Ok() : IOError("cannot write " + path);
}

// Every address the config's processes bind: the TLS server certificate names them all.
std::vector<std::string> ConfigAddresses(const ClusterConfig& config) {
  std::set<std::string> addresses = {config.host};
  for (const HostConfig& h : config.hosts) addresses.insert(h.address);
  for (const ReplicaConfig& r : config.replicas) addresses.insert(r.host);
  for (const CoordinatorConfig& c : config.coordinators) addresses.insert(c.address);
  addresses.erase("");
  return {addresses.begin(), addresses.end()};
}

StatusOr<Credentials> WriteCredentials(const ClusterConfig& config, const std::string& dir,
                                       bool tls) {
  const std::string abs = fs::absolute(dir).lexically_normal().string();
  Credentials made{abs + "/admin.token", abs + "/client.password", ""};
  DUPLEX_RETURN_IF_ERROR(WriteSecret(made.admin_token_file));
  DUPLEX_RETURN_IF_ERROR(WriteSecret(made.client_password_file));
  if (tls) {
    made.tls_dir = abs + "/tls";
    auto files = WriteTlsFiles(made.tls_dir, ConfigAddresses(config));
    if (!files.ok()) return files.status();
  }
  return made;
}

std::string SecurityBlock(const std::string& keys_dir,
                          const std::map<std::string, std::string>& public_keys,
                          const Credentials& credentials) {
  YamlWriter out;
  out.BeginMap();
  out.Key("security");
  out.BeginMap();
  out.Field("keys_dir", keys_dir);
  out.Key("public_keys");
  out.BeginMap();
  for (const auto& [member, key] : public_keys) out.Field(member, key);
  out.EndMap();
  out.Field("admin_token_file", credentials.admin_token_file);
  out.Field("client_password_file", credentials.client_password_file);
  if (!credentials.tls_dir.empty()) {
    out.Key("tls");
    out.BeginMap();
    out.Field("cert_file", credentials.tls_dir + "/server.crt");
    out.Field("key_file", credentials.tls_dir + "/server.key");
    out.Field("ca_file", credentials.tls_dir + "/ca.crt");
    out.Field("client_certs", std::string("none"));
    out.EndMap();
  }
  out.EndMap();
  out.EndMap();
  return out.Text();
}

}  // namespace

KeysCommand::KeysCommand(CLI::App& app) {
  CLI::App* keys = app.add_subcommand("keys", "the cluster's keys: init");
  init_ = keys->add_subcommand(
      "init",
      "make a CURVE key pair per member (replicas, agents, coordinators) and name them "
      "in the config's security section");
  init_->add_option(
      "--dir", dir_,
      "where the secret (0600) and public keys go (default: keys/ beside the config)");
  init_->add_flag("--tls", tls_,
                  "also a CA, a server certificate (every address of the config, 127.0.0.1, "
                  "localhost) and a client certificate, in <dir>/tls");
  keys->require_subcommand(1);
}

bool KeysCommand::parsed() const { return init_->parsed(); }

int KeysCommand::Run(const ClusterConfig& config) const {
  const fs::path config_dir = fs::path(config.source_path).parent_path();
  const std::string dir = dir_.empty() ? (config_dir / "keys").string() : dir_;
  StatusOr<std::map<std::string, std::string>> keys = InitClusterKeys(config, dir);
  if (!keys.ok()) {
    std::cerr << "duplex: keys init: " << keys.status().message() << "\n";
    return 1;
  }
  StatusOr<Credentials> credentials = WriteCredentials(config, dir, tls_);
  if (!credentials.ok()) {
    std::cerr << "duplex: keys init: " << credentials.status().message() << "\n";
    return 1;
  }
  const std::string block =
      SecurityBlock(fs::absolute(dir).lexically_normal().string(), *keys, *credentials);
  std::cout << "wrote " << keys->size() << " key pairs, the admin token and the client password"
            << (tls_ ? ", a CA and TLS certificates" : "") << " to " << dir << "\n";
  if (config.security.curve() || !config.security.keys_dir.empty() || config.source_path.empty()) {
    std::cout << "the config already has a security section: add these keys to it\n" << block;
    return 0;
  }
  std::ofstream file(config.source_path, std::ios::app);
  file << "\n# Written by `duplex keys init`: each member's CURVE public key; its secret key is\n"
          "# <keys_dir>/<member>.secret (mode 0600) on the member's host.\n"
       << block;
  if (!file.flush()) {
    std::cerr << "duplex: keys init: cannot append to " << config.source_path << "\n";
    return 1;
  }
  std::cout << "added the security section to " << config.source_path << "\n";
  return 0;
}

}  // namespace duplex::cli
