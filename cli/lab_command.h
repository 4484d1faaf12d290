// `duplex lab up|crash|freeze|thaw|start|isolate|heal|status|down`: N simulated hosts on this
// machine (chaos/lab/lab.h), found from the cluster config (<data_dir>/lab, or --dir).
// Registers its options on the app; Run carries out the one that was parsed. Single-threaded.
#pragma once

#include <string>

#include "upgrade_coordinator/cluster_config.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace duplex::cli {

class LabCommand {
 public:
  explicit LabCommand(CLI::App& app);
  LabCommand(const LabCommand&) = delete;
  LabCommand& operator=(const LabCommand&) = delete;

  bool parsed() const;
  // The exit code: 0 done, 1 failed, 2 bad input.
  int Run(const std::string& duplex_binary, const ClusterConfig& config) const;

 private:
  CLI::App* lab_ = nullptr;
  std::string what_;  // the verb
  std::string host_;
  int hosts_ = 0;
  bool etcd_ = false;
  int etcd_port_ = 2379;
  CLI::Option* etcd_port_option_ = nullptr;
  int first_host_ = 1;
  std::string dir_;
  std::string from_;
  std::string to_;
  bool json_ = false;
};

}  // namespace duplex::cli
