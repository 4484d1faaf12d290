#include "chaos/lab/lab_state.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/files.h"

namespace duplex::lab {
namespace {

using nlohmann::json;

// The text at json[key], or an error naming the field.
Status ReadText(const json& j, const std::string& path, const char* key, std::string* out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) {
    return Corruption("lab.json: " + path + key + ": missing or not a string");
  }
  *out = it->get<std::string>();
  return Status::Ok();
}

Status ReadHosts(const json& list, LabState* state) {
  if (!list.is_array()) return Corruption("lab.json: hosts: not a list");
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string path = "hosts[" + std::to_string(i) + "].";
    LabHost host;
    DUPLEX_RETURN_IF_ERROR(ReadText(list[i], path, "name", &host.name));
    DUPLEX_RETURN_IF_ERROR(ReadText(list[i], path, "address", &host.address));
    DUPLEX_RETURN_IF_ERROR(ReadText(list[i], path, "data_dir", &host.data_dir));
    state->hosts.push_back(std::move(host));
  }
  return Status::Ok();
}

Status ReadProcesses(const json& list, LabState* state) {
  if (!list.is_array()) return Corruption("lab.json: processes: not a list");
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string path = "processes[" + std::to_string(i) + "].";
    LabProcessRecord p;
    std::string role;
    DUPLEX_RETURN_IF_ERROR(ReadText(list[i], path, "role", &role));
    DUPLEX_RETURN_IF_ERROR(ReadText(list[i], path, "host", &p.host));
    DUPLEX_RETURN_IF_ERROR(ReadText(list[i], path, "log", &p.log_path));
    bool known = false;
    for (LabRole r : {LabRole::kAgent, LabRole::kCoordinator, LabRole::kEtcd}) {
      if (role == LabRoleName(r)) {
        p.role = r;
        known = true;
      }
    }
    if (!known) {
      return Corruption("lab.json: " + path + "role: " + role +
                        " is not agent, coordinator or etcd");
    }
    auto pid = list[i].find("pid");
    if (pid == list[i].end() || !pid->is_number_integer() || pid->get<int64_t>() <= 0) {
      return Corruption("lab.json: " + path + "pid: missing or not a pid");
    }
    p.pid = static_cast<pid_t>(pid->get<int64_t>());
    state->processes.push_back(std::move(p));
  }
  return Status::Ok();
}

Status ReadIsolation(const json& list, LabState* state) {
  if (!list.is_array()) return Corruption("lab.json: isolation: not a list");
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string path = "isolation[" + std::to_string(i) + "].";
    IsolationRecord r;
    std::string direction;
    DUPLEX_RETURN_IF_ERROR(ReadText(list[i], path, "host", &r.host));
    DUPLEX_RETURN_IF_ERROR(ReadText(list[i], path, "direction", &direction));
    DUPLEX_RETURN_IF_ERROR(ReadText(list[i], path, "peer", &r.peer));
    StatusOr<Direction> parsed = ParseDirection(direction);
    if (!parsed.ok()) return Corruption("lab.json: " + path + parsed.status().message());
    r.direction = *parsed;
    if (auto ports = list[i].find("ports"); ports != list[i].end()) {
      if (!ports->is_array()) return Corruption("lab.json: " + path + "ports: not a list");
      for (const json& port : *ports) {
        if (!port.is_number_integer()) return Corruption("lab.json: " + path + "ports: bad port");
        r.ports.push_back(port.get<int>());
      }
      std::string scope;
      DUPLEX_RETURN_IF_ERROR(ReadText(list[i], path, "scope", &scope));
      StatusOr<PortScope> parsed_scope = ParsePortScope(scope);
      if (!parsed_scope.ok())
        return Corruption("lab.json: " + path + parsed_scope.status().message());
      r.scope = *parsed_scope;
    }
    state->isolation.push_back(std::move(r));
  }
  return Status::Ok();
}

Status ReadCoordinators(const json& list, LabState* state) {
  if (!list.is_array()) return Corruption("lab.json: coordinators: not a list");
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string path = "coordinators[" + std::to_string(i) + "].";
    LabCoordinator c;
    DUPLEX_RETURN_IF_ERROR(ReadText(list[i], path, "host", &c.host));
    DUPLEX_RETURN_IF_ERROR(ReadText(list[i], path, "admin", &c.admin));
    state->coordinators.push_back(std::move(c));
  }
  return Status::Ok();
}

Status ReadEtcd(const json& list, LabState* state) {
  if (!list.is_array()) return Corruption("lab.json: etcd: not a list");
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string path = "etcd[" + std::to_string(i) + "].";
    LabEtcdMember m;
    DUPLEX_RETURN_IF_ERROR(ReadText(list[i], path, "host", &m.host));
    DUPLEX_RETURN_IF_ERROR(ReadText(list[i], path, "client_url", &m.client_url));
    DUPLEX_RETURN_IF_ERROR(ReadText(list[i], path, "peer_url", &m.peer_url));
    state->etcd.push_back(std::move(m));
  }
  return Status::Ok();
}

}  // namespace

const char* LabRoleName(LabRole role) {
  switch (role) {
    case LabRole::kAgent:
      return "agent";
    case LabRole::kCoordinator:
      return "coordinator";
    case LabRole::kEtcd:
      return "etcd";
  }
  return "?";
}

std::string LabStatePath(const std::string& lab_dir) { return lab_dir + "/lab.json"; }

nlohmann::json LabStateToJson(const LabState& state) {
  json hosts = json::array();
  for (const LabHost& h : state.hosts) {
    hosts.push_back({{"name", h.name}, {"address", h.address}, {"data_dir", h.data_dir}});
  }
  json processes = json::array();
  for (const LabProcessRecord& p : state.processes) {
    processes.push_back(
        {{"pid", p.pid}, {"role", LabRoleName(p.role)}, {"host", p.host}, {"log", p.log_path}});
  }
  json isolation = json::array();
  for (const IsolationRecord& r : state.isolation) {
    json record = {{"host", r.host}, {"direction", DirectionName(r.direction)}, {"peer", r.peer}};
    if (!r.ports.empty()) {
      record["ports"] = r.ports;
      record["scope"] = PortScopeName(r.scope);
    }
    isolation.push_back(std::move(record));
  }
  json coordinators = json::array();
  for (const LabCoordinator& c : state.coordinators) {
    coordinators.push_back({{"host", c.host}, {"admin", c.admin}});
  }
  json etcd = json::array();
  for (const LabEtcdMember& m : state.etcd) {
    etcd.push_back({{"host", m.host}, {"client_url", m.client_url}, {"peer_url", m.peer_url}});
  }
  return {{"lab_id", state.lab_id},
          {"dir", state.dir},
          {"config", state.config_path},
          {"nft_table", state.table},
          {"coordinators", coordinators},
          {"etcd", etcd},
          {"hosts", hosts},
          {"processes", processes},
          {"isolation", isolation}};
}

StatusOr<LabState> LabStateFromJson(const nlohmann::json& j) {
  if (!j.is_object()) return Corruption("lab.json: not a JSON object");
  LabState state;
  DUPLEX_RETURN_IF_ERROR(ReadText(j, "", "lab_id", &state.lab_id));
  if (!IsLabId(state.lab_id)) return Corruption("lab.json: lab_id: " + state.lab_id + " is bad");
  DUPLEX_RETURN_IF_ERROR(ReadText(j, "", "dir", &state.dir));
  DUPLEX_RETURN_IF_ERROR(ReadText(j, "", "config", &state.config_path));
  DUPLEX_RETURN_IF_ERROR(ReadText(j, "", "nft_table", &state.table));
  DUPLEX_RETURN_IF_ERROR(ReadCoordinators(j.value("coordinators", json()), &state));
  DUPLEX_RETURN_IF_ERROR(ReadEtcd(j.value("etcd", json::array()), &state));
  DUPLEX_RETURN_IF_ERROR(ReadHosts(j.value("hosts", json()), &state));
  DUPLEX_RETURN_IF_ERROR(ReadProcesses(j.value("processes", json()), &state));
  DUPLEX_RETURN_IF_ERROR(ReadIsolation(j.value("isolation", json()), &state));
  return state;
}

StatusOr<LabState> LoadLabState(const std::string& lab_dir) {
  const std::string path = LabStatePath(lab_dir);
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return NotFound("no lab is up at " + lab_dir + " (no lab.json)");
    return IOError(path + ": cannot read: " + std::strerror(errno));
  }
  std::stringstream text;
  text << in.rdbuf();
  json j = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Corruption(path + ": not JSON");
  StatusOr<LabState> state = LabStateFromJson(j);
  if (!state.ok()) return Corruption(lab_dir + "/" + state.status().message());
  return state;
}

Status SaveLabState(const LabState& state) {
  return WriteFileAtomically(LabStatePath(state.dir), LabStateToJson(state).dump(2) + "\n");
}

}  // namespace duplex::lab
