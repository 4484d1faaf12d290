// LabState: what `duplex lab` remembers of a lab that is up, in <lab dir>/lab.json: its id,
// the config its processes run with, its hosts, its coordinators and etcd members, the
// processes it started and the isolation rules in force. Written whole (rename) by each command
// that changes it. Plain values.
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "chaos/lab/nft_isolation.h"
#include "common/status.h"

namespace duplex::lab {

enum class LabRole { kAgent, kCoordinator, kEtcd };
const char* LabRoleName(LabRole role);  // "agent", "coordinator", "etcd"

struct LabHost {
  std::string name;
  std::string address;   // 127.0.N.1
  std::string data_dir;  // HostDataDir: its processes' files and logs
};

// A coordinator the lab runs: one (the embedded default), or one on each of three hosts.
struct LabCoordinator {
  std::string host;   // "" = on no host (the coordinator of a two-host lab)
  std::string admin;  // address:admin_port, where its /status answers
  bool operator==(const LabCoordinator&) const = default;
};

// An etcd member the lab runs on one of its hosts (`lab up --etcd`); its etcd name is the
// host's, its data in <host dir>/etcd.
struct LabEtcdMember {
  std::string host;
  std::string client_url;  // http://127.0.N.1:<client port>
  std::string peer_url;    // http://127.0.N.1:<peer port>
  bool operator==(const LabEtcdMember&) const = default;
};

// A process the lab started (an agent, a coordinator, an etcd member), not those they started.
struct LabProcessRecord {
  pid_t pid = 0;
  LabRole role = LabRole::kAgent;
  std::string host;  // "" = on no host (the coordinator of a two-host lab)
  std::string log_path;
};

struct IsolationRecord {
  std::string host;
  Direction direction = Direction::kBoth;
  std::string peer;  // kFrom/kTo: a host's name or "all"; "" for kBoth
  // Drops on these ports only (PortIsolation), in `scope`; empty for a host's isolation.
  std::vector<int> ports;
  PortScope scope = PortScope::kService;
  bool operator==(const IsolationRecord&) const = default;
};

struct LabState {
  std::string lab_id;
  std::string dir;
  std::string config_path;  // the config given to the lab's processes
  std::string table;        // nftables table: ip <table>
  std::vector<LabHost> hosts;
  std::vector<LabCoordinator> coordinators;  // one, or three (`lab up --etcd`)
  std::vector<LabEtcdMember> etcd;           // none, or one per coordinator
  std::vector<LabProcessRecord> processes;
  std::vector<IsolationRecord> isolation;
};

std::string LabStatePath(const std::string& lab_dir);  // <lab dir>/lab.json
nlohmann::json LabStateToJson(const LabState& state);
// Errors name the field: "lab.json: hosts[0].address: missing".
StatusOr<LabState> LabStateFromJson(const nlohmann::json& json);
// NotFound "no lab is up at <dir> (no lab.json)" when there is no state.
StatusOr<LabState> LoadLabState(const std::string& lab_dir);
Status SaveLabState(const LabState& state);

}  // namespace duplex::lab
