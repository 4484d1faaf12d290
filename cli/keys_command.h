// `duplex keys init [--dir DIR] [--tls]`: makes a CURVE key pair for every member of the cluster
// (upgrade_coordinator/security_config.h), the admin token and the client password, with --tls
// a CA and certificates (replica/tls.h), and adds the `security:` section naming them to the
// config (or prints it when the config already has one). Single-threaded.
#pragma once

#include <string>

#include "upgrade_coordinator/cluster_config.h"

namespace CLI {
class App;
}  // namespace CLI

namespace duplex::cli {

class KeysCommand {
 public:
  explicit KeysCommand(CLI::App& app);
  KeysCommand(const KeysCommand&) = delete;
  KeysCommand& operator=(const KeysCommand&) = delete;

  bool parsed() const;
  // The exit code: 0 done, 1 failed, 2 bad input.
  int Run(const ClusterConfig& config) const;

 private:
  CLI::App* init_ = nullptr;
  std::string dir_;   // default: <config's directory>/keys
  bool tls_ = false;  // also a CA and TLS certificates
};

}  // namespace duplex::cli
