// PlanLab: what `duplex lab up` will run, decided from the cluster config alone (no file is
// written, nothing is started): the lab's id and directory, and the config its processes
// run with, derived (hosts h1..hN on 127.0.N.1) when the operator's names no hosts. Pure
// functions, thread-safe.
#pragma once

#include <string>

#include "common/status.h"
#include "upgrade_coordinator/cluster_config.h"

namespace duplex::lab {

inline constexpr int kLabHostsMax = 254;  // 127.0.1.1 .. 127.0.254.1

struct LabUpOptions {
  int hosts = 0;    // --hosts; 0 = not given
  std::string dir;  // --dir; "" = <data_dir>/lab
  // Derived hosts h1..hN sit at 127.0.<first>.1 .. 127.0.<first+N-1>.1: a test beside other
  // labs on one machine keeps to its own addresses (the chaos harness's hosts tests use 11).
  int first_host_number = 1;
};

struct LabPlan {
  std::string lab_id;  // [a-z0-9_], unique to the lab directory
  std::string dir;     // the lab's directory: lab.json, a derived cluster.yaml
  ClusterConfig config;
  // config is written to <dir>/cluster.yaml for the lab's processes; else they read the
  // operator's file as it is (config.source_path).
  bool derived = false;
  std::string config_path;  // what the agents and the coordinator are given with -c
};

// <config data_dir>/lab, or dir_flag when given (made absolute).
std::string LabDir(const ClusterConfig& config, const std::string& dir_flag);
// The cluster's name in [a-z0-9_] (at most 20 characters), "_", and 8 hex digits of the
// lab directory's sha256: two labs of one config in two directories differ.
std::string LabId(const ClusterConfig& config, const std::string& lab_dir);
// N for "127.0.N.1" with N in 1..254, else 0.
int LabHostNumber(const std::string& address);

// Errors are InvalidArgument naming the field or flag, e.g.
// "hosts[1].address: 10.0.0.2: the lab runs hosts on 127.0.N.1 only".
StatusOr<LabPlan> PlanLab(const ClusterConfig& config, const LabUpOptions& options);

}  // namespace duplex::lab
