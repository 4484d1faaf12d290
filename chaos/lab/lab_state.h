// LabState: what `duplex lab` remembers of a lab that is up, in <lab dir>/lab.json: its id,
// the config its processes run with, its hosts, the processes it started and the isolation
// rules in force. Written whole (rename) by each command that changes it. Plain values.
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "chaos/lab/nft_isolation.h"
#include "common/status.h"

namespace duplex::lab {

enum class LabRole { kAgent, kCoordinator };
const char* LabRoleName(LabRole role);  // "agent", "coordinator"

struct LabHost {
  std::string name;
  std::string address;   // 127.0.N.1
  std::string data_dir;  // HostDataDir: its processes' files and logs
};

// A process the lab started (an agent or the coordinator), not those they started.
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
  bool operator==(const IsolationRecord&) const = default;
};

struct LabState {
  std::string lab_id;
  std::string dir;
  std::string config_path;  // the config given to the lab's processes
  std::string table;        // nftables table: ip <table>
  std::vector<LabHost> hosts;
  std::string coordinator_host;      // "" = on no host
  std::string coordinator_endpoint;  // address:admin_port
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
