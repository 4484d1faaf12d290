// PlanLab: what `duplex lab up` will run, decided from the cluster config alone (no file is
// written, nothing is started): the lab's id and directory, the config its processes run
// with, derived (hosts h1..hN on 127.0.N.1) when the operator's names no hosts, and with
// --etcd its three coordinators and etcd members. Pure functions, thread-safe.
#pragma once

#include <string>

#include "chaos/lab/lab_state.h"
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
  // --etcd: an etcd member and a coordinator on each of h1..h3 (the hosts are derived, three at
  // least), the config's records in etcd under /duplex/<lab id>. Each member listens on its
  // host's address at these ports (tests pick free ones; each host has its own address, so
  // etcd's usual ports serve every host of `duplex lab`).
  bool etcd = false;
  int etcd_client_port = 2379;
  int etcd_peer_port = 2380;
  // A derived config whose keys do not cover every member it implies gets a fresh key pair per
  // member under <lab dir>/keys, so that the lab's links speak CURVE. false: it keeps what the
  // operator's config says (a benchmark's plain baseline). An operator's config used as it is
  // (not derived) is never given keys: `duplex keys init` does that.
  bool curve = true;
};

// The members' tuning on loopback (README "The lab"): a heartbeat every 10 ms and an election
// after 100 ms of silence instead of etcd's 100 ms / 1000 ms, so that a member's loss costs
// ~0.1 s and a lease of 1 s is allowed (etcd grants no ttl below 1.5 election timeouts,
// rounded up to a second: 2 s with its defaults); loopback's round trips are microseconds, so 10 ms
// still leaves room.
inline constexpr int kEtcdHeartbeatMs = 10;
inline constexpr int kEtcdElectionMs = 100;
static_assert(kEtcdHeartbeatMs * 5 <= kEtcdElectionMs, "etcd wants election >= 5 heartbeats");
inline constexpr int kEtcdLeaseTtlS = 1;
inline constexpr int kLabCoordinatorsMax = 3;

struct LabPlan {
  std::string lab_id;  // [a-z0-9_], unique to the lab directory
  std::string dir;     // the lab's directory: lab.json, a derived cluster.yaml
  ClusterConfig config;
  // config is written to <dir>/cluster.yaml for the lab's processes; else they read the
  // operator's file as it is (config.source_path).
  bool derived = false;
  std::string config_path;  // what the agents and the coordinator are given with -c
  // Where Lab::Start makes the members' keys (and sets config's security to them); "" = none.
  // Only for a derived config, so that the written file names them.
  std::string keys_dir;
  std::vector<LabCoordinator> coordinators;  // one, or three with --etcd
  std::vector<LabEtcdMember> etcd;           // --etcd: one per coordinator, on its host
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
