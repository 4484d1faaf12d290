#include "upgrade_coordinator/coordinator_metrics.h"

#include <algorithm>
#include <map>

#include "common/assert.h"
#include "common/prometheus.h"
#include "upgrade_coordinator/campaign/names.h"

namespace duplex {
namespace {

template <class T>
T Field(const nlohmann::json& j, const char* key, T fallback) {
  return j.is_object() && j.contains(key) && !j[key].is_null() ? j[key].get<T>() : fallback;
}

// The hosts' agents and the failovers by what their agents said.
void HostMetrics(const nlohmann::json& view, PrometheusText& m) {
  const nlohmann::json failovers = view.value("host_failovers", nlohmann::json::object());
  for (const auto& [cause, n] : failovers.items()) {
    m.Counter("duplex_host_failovers_total",
              "Failovers by cause: process_exit (reported by its agent), host_unreachable (the "
              "agent silent too), process_silent (the process hung under a live agent).",
              n.get<uint64_t>(), {{"cause", cause}});
  }
  for (const auto& h : view.value("hosts", nlohmann::json::array())) {
    PrometheusText::Labels host = {{"host", Field<std::string>(h, "name", "")}};
    m.Level("duplex_agent_connected", "1 while the host's agent reports.",
            Field<std::string>(h, "agent", "") == "connected", host);
    if (h.contains("last_heartbeat_ms")) {
      m.Gauge("duplex_agent_heartbeat_age_seconds", "Seconds since the host's agent last reported.",
              Field<uint64_t>(h, "last_heartbeat_ms", 0) / 1e3, host);
    }
    const nlohmann::json processes = h.value("processes", nlohmann::json::array());
    m.Level("duplex_agent_processes", "Replica processes the host's agent runs.",
            static_cast<uint64_t>(
                std::count_if(processes.begin(), processes.end(),
                              [](const nlohmann::json& p) { return p.value("pid", 0) != 0; })),
            host);
  }
}

// The latest campaign: whether it runs, and where it stands.
void CampaignMetrics(const nlohmann::json& view, PrometheusText& m) {
  const nlohmann::json& campaign = view.contains("campaign") ? view["campaign"] : nlohmann::json();
  std::string state = Field<std::string>(campaign, "state", "none");
  std::optional<CampaignState> known = FromName<CampaignState>(state);
  // The view is built from our own record (campaign/record.h), whose states are known names.
  DUPLEX_ASSERT(known.has_value() || state == "none", "a campaign in the view has a known state",
                state);
  m.Level("duplex_upgrade_running", "1 while an upgrade campaign runs or awaits finalize.",
          known.has_value() && !Ended(*known));
  m.Level("duplex_upgrade_info", "The latest upgrade campaign, its target and state (always 1).", 1,
          {{"from", Field<std::string>(campaign, "from", "")},
           {"to", Field<std::string>(campaign, "to", "")},
           {"state", state},
           {"phase", Field<std::string>(campaign, "phase", "")}});
}

// Packages refused by POST /packages and the store (package_refusals in the view: every
// reason, 0 included, so that a dashboard sees each series before the first refusal).
void PackageMetrics(const nlohmann::json& view, PrometheusText& m) {
  const nlohmann::json refusals = view.value("package_refusals", nlohmann::json::object());
  for (const auto& [reason, n] : refusals.items()) {
    m.Counter("duplex_package_refused_total",
              "Packages refused since this coordinator's term began, by reason: unsigned, "
              "untrusted_key, bad_signature, checksum, unsafe_tarball, too_large, outside_dir, "
              "invalid.",
              n.get<uint64_t>(), {{"reason", reason}});
  }
  m.Counter("duplex_agent_package_refused_total",
            "Packages a host's agent refused when it received them (signature, checksum, size) "
            "and reported, since this coordinator's term began.",
            Field<uint64_t>(view, "agent_package_refusals", 0));
}

// This coordinator's leadership and its view of etcd (GET /status's coordinator, leader_changes
// and etcd). A coordinator alone acts, in term 0, and has no etcd.
void LeadershipMetrics(const nlohmann::json& view, PrometheusText& m) {
  const nlohmann::json self = view.value("coordinator", nlohmann::json::object());
  const std::string role = Field<std::string>(self, "role", "alone");
  m.Level("duplex_coordinator_leader",
          "1 while this coordinator acts: it leads (or runs alone); 0 while it follows.",
          role == "leader" || role == "alone");
  m.Level("duplex_coordinator_term",
          "The coordinators' term as this one knows it: the etcd leader key's revision (0 alone).",
          Field<uint64_t>(self, "term", 0));
  m.Counter("duplex_coordinator_leader_changes_total",
            "Terms this coordinator took up as leader since it started.",
            Field<uint64_t>(view, "leader_changes", 0));
  if (!view.contains("etcd")) return;
  const nlohmann::json& etcd = view["etcd"];
  m.Level("duplex_etcd_reachable", "1 while this coordinator's last etcd call succeeded.",
          Field<bool>(etcd, "reachable", false));
  m.Gauge("duplex_etcd_silent_seconds", "Seconds since etcd last answered this coordinator.",
          Field<uint64_t>(etcd, "silent_ms", 0) / 1e3);
}

// What the bounds refused (GET /status's "bounds": the term's epochs and ids, the edges').
void BoundsMetrics(const nlohmann::json& view, PrometheusText& m) {
  const nlohmann::json bounds = view.value("bounds", nlohmann::json::object());
  const char* epoch_help =
      "Epochs and ids refused for being more than limits.epoch_step_max above the highest "
      "known, by what carried them.";
  m.Counter("duplex_epoch_refused_total", epoch_help, Field<uint64_t>(bounds, "status_epochs", 0),
            {{"what", "status_epoch"}});
  m.Counter("duplex_epoch_refused_total", epoch_help,
            Field<uint64_t>(bounds, "solo_request_ids", 0), {{"what", "solo_request_id"}});
  m.Counter("duplex_epoch_refused_total", epoch_help, Field<uint64_t>(bounds, "agent_instances", 0),
            {{"what", "agent_instance"}});
  m.Counter("duplex_zmq_messages_refused_total",
            "ZeroMQ messages dropped unread: more parts than limits.zmq_parts_max.",
            Field<uint64_t>(bounds, "zmq_parts", 0), {{"reason", "parts"}});
  m.Counter("duplex_http_bodies_refused_total",
            "HTTP requests refused (413): a body above limits.http_body_bytes_max (or "
            "package_bytes_max for an upload).",
            Field<uint64_t>(bounds, "http_bodies", 0));
  m.Counter("duplex_admin_calls_refused_total",
            "Admin API calls refused: limits.admin_jobs_max calls already wait for the loop.",
            Field<uint64_t>(bounds, "admin_commands", 0));
}

}  // namespace

std::string CoordinatorMetricsText(const nlohmann::json& view,
                                   const std::vector<TransitionEvent>& transitions) {
  PrometheusText m;
  m.Level("duplex_cluster_info", "The cluster, its active replica and its version (always 1).", 1,
          {{"cluster", Field<std::string>(view, "cluster", "")},
           {"active", Field<std::string>(view, "active", "")},
           {"mode", Field<std::string>(view, "mode", "")},
           {"cluster_version", Field<std::string>(view, "cluster_version", "")}});
  m.Level("duplex_cluster_epoch", "The current epoch (one more at every promotion).",
          Field<uint64_t>(view, "epoch", 0));
  m.Level("duplex_management_lock", "1 while an upgrade campaign holds the management lock.",
          Field<bool>(view, "lock", false));
  m.Counter("duplex_refused_control_frames_total", "Malformed control frames from replicas.",
            Field<uint64_t>(view, "refused_control_frames", 0));

  const nlohmann::json replicas = view.value("replicas", nlohmann::json::array());
  auto name_of = [](const nlohmann::json& r) {
    return PrometheusText::Labels{{"replica", Field<std::string>(r, "name", "")}};
  };
  auto level = [&](const std::string& name, const std::string& help, auto value_of) {
    for (const auto& r : replicas) m.Level(name, help, value_of(r), name_of(r));
  };
  using J = const nlohmann::json&;
  level("duplex_replica_up", "1 while the replica's process runs.",
        [](J r) { return Field<bool>(r, "alive", false); });
  level("duplex_replica_active", "1 for the replica that is active.",
        [](J r) { return Field<std::string>(r, "role", "") == "active"; });
  level("duplex_replica_in_sync", "1 while the replica is active or a standby in sync.",
        [](J r) { return Field<bool>(r, "in_sync", false); });
  level("duplex_replica_healthy", "1 while the replica reports healthy.",
        [](J r) { return Field<bool>(r, "healthy", false); });
  level("duplex_replica_failed", "1 once the restart policy gave up on the replica.",
        [](J r) { return Field<bool>(r, "failed", false); });
  level("duplex_replica_lag_ops", "Deltas the replica is behind the active.",
        [](J r) { return Field<uint64_t>(r, "lag", 0); });
  level("duplex_replica_applied_seq", "The replica's last committed delta.",
        [](J r) { return Field<uint64_t>(r, "applied_seq", 0); });
  for (const auto& r : replicas) {
    m.Counter("duplex_replica_starts_total", "Times the coordinator started the replica's process.",
              Field<uint64_t>(r, "starts", 0), name_of(r));
  }

  std::map<std::string, uint64_t> by_kind = {
      {"crash failover", 0}, {"hang failover", 0}, {"switchover", 0}, {"election", 0}};
  for (const TransitionEvent& t : transitions) ++by_kind[t.kind];
  uint64_t counted = 0;
  for (const auto& [kind, n] : by_kind) counted += n;
  DUPLEX_ASSERT(counted == transitions.size(), "every promotion is counted under one kind", counted,
                transitions.size());
  for (const auto& [kind, n] : by_kind) {
    m.Counter("duplex_transitions_total",
              "Promotions since the coordinator started, by kind (failover, switchover, ...).", n,
              {{"kind", kind}});
  }

  HostMetrics(view, m);
  LeadershipMetrics(view, m);
  BoundsMetrics(view, m);

  CampaignMetrics(view, m);
  PackageMetrics(view, m);
  return m.Take();
}

}  // namespace duplex
