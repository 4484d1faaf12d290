#include "upgrade_coordinator/coordinator_finder.h"

#include <httplib.h>

#include <chrono>
#include <deque>

#include "upgrade_coordinator/admin_http.h"

namespace duplex {
namespace {

std::string Text(const nlohmann::json& j, const char* object, const char* key) {
  if (!j.is_object() || !j.contains(object) || !j[object].is_object()) return "";
  const nlohmann::json& field = j[object].value(key, nlohmann::json());
  return field.is_string() ? field.get<std::string>() : "";
}

StatusOr<nlohmann::json> AskStatus(const ClusterConfig& config, const AdminEndpoint& admin,
                                   int timeout_ms) {
  httplib::Client http = AdminHttpClient(config, admin.address, admin.port, timeout_ms);
  http.set_connection_timeout(std::chrono::milliseconds(timeout_ms));
  auto res = http.Get("/status");
  if (!res) {
    return Unavailable("does not answer (" + httplib::to_string(res.error()) + " error, timeout " +
                       std::to_string(timeout_ms) + " ms)");
  }
  if (res->status != 200) return Unavailable("answers HTTP " + std::to_string(res->status));
  nlohmann::json body = nlohmann::json::parse(res->body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object()) return Corruption("answers a status that is not a JSON object");
  return body;
}

}  // namespace

std::optional<AdminEndpoint> ParseAdminEndpoint(const std::string& text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= text.size() ||
      text.size() - colon > 6) {
    return std::nullopt;
  }
  const std::string digits = text.substr(colon + 1);
  if (digits.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  const int port = std::stoi(digits);
  if (port < 1 || port > 65535) return std::nullopt;
  return AdminEndpoint{text.substr(0, colon), port};
}

std::string CoordinatorProbe::Role() const {
  return status.ok() ? Text(*status, "coordinator", "role") : "";
}

const CoordinatorProbe* LeaderSearch::Leader() const {
  for (const CoordinatorProbe& p : probes) {
    if (p.Role() == "leader") return &p;
  }
  return nullptr;
}

const CoordinatorProbe* LeaderSearch::FirstFollower() const {
  for (const CoordinatorProbe& p : probes) {
    if (p.Role() == "follower") return &p;
  }
  return nullptr;
}

Status LeaderSearch::NoLeader() const {
  std::string why;
  for (const CoordinatorProbe& p : probes) {
    std::string said;
    if (!p.status.ok()) {
      said = p.status.status().message();
    } else if (p.Role() == "follower") {
      const std::string leader = Text(*p.status, "leader", "host");
      said = leader.empty() ? "follows (no leader known)"
                            : "follows " + leader + " at " + Text(*p.status, "leader", "admin") +
                                  ", which did not answer as the leader";
    } else {
      said = "answers as " + (p.Role().empty() ? std::string("neither leader nor follower")
                                               : "\"" + p.Role() + "\"");
    }
    why += (why.empty() ? "" : "; ") + p.host + " at " + p.admin.ToString() + " " + said;
  }
  return Unavailable("no coordinator leads: " + (why.empty() ? "none is configured" : why));
}

LeaderSearch FindLeader(const ClusterConfig& config, int probe_timeout_ms, Probing probing) {
  LeaderSearch search;
  std::vector<bool> asked(config.coordinators.size(), false);
  std::deque<std::size_t> next;  // indices into config.coordinators
  for (std::size_t i = 0; i < config.coordinators.size(); ++i) next.push_back(i);
  while (!next.empty()) {
    const std::size_t i = next.front();
    next.pop_front();
    if (asked[i]) continue;
    asked[i] = true;
    const CoordinatorConfig& c = config.coordinators[i];
    CoordinatorProbe probe{c.host_name, {c.address, c.admin_port}};
    probe.status = AskStatus(config, probe.admin, probe_timeout_ms);
    const std::string role = probe.Role();
    const std::string hint = role == "follower" ? Text(*probe.status, "leader", "admin") : "";
    search.probes.push_back(std::move(probe));
    if (role == "leader" && probing == Probing::kUntilLeader) break;
    // A follower knows who holds the leader key: ask that one next.
    for (std::size_t j = 0; j < config.coordinators.size() && !hint.empty(); ++j) {
      const CoordinatorConfig& other = config.coordinators[j];
      if (!asked[j] && AdminEndpoint{other.address, other.admin_port}.ToString() == hint) {
        next.push_front(j);
      }
    }
  }
  return search;
}

std::optional<AdminEndpoint> LeaderNamedIn(int http_status, const std::string& body) {
  if (http_status != 503) return std::nullopt;
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  const nlohmann::json& error = j.value("error", nlohmann::json());
  if (!error.is_string() || error.get<std::string>().find("does not lead") == std::string::npos) {
    return std::nullopt;
  }
  return ParseAdminEndpoint(Text(j, "leader", "admin"));
}

}  // namespace duplex
