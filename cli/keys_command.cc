#include "cli/keys_command.h"

#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "common/yaml_fields.h"
#include "upgrade_coordinator/security_config.h"

namespace duplex::cli {
namespace {

namespace fs = std::filesystem;

std::string SecurityBlock(const std::string& keys_dir,
                          const std::map<std::string, std::string>& public_keys) {
  YamlWriter out;
  out.BeginMap();
  out.Key("security");
  out.BeginMap();
  out.Field("keys_dir", keys_dir);
  out.Key("public_keys");
  out.BeginMap();
  for (const auto& [member, key] : public_keys) out.Field(member, key);
  out.EndMap();
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
  const std::string block = SecurityBlock(fs::absolute(dir).lexically_normal().string(), *keys);
  std::cout << "wrote " << keys->size() << " key pairs to " << dir << "\n";
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
