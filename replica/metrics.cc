#include "replica/metrics.h"

#include "common/assert.h"
#include "common/prometheus.h"

namespace duplex {

namespace {

// What the bounds refused (limits.*): epochs and ids past the step bound, admin jobs past
// the queue, client connections, ZeroMQ messages and HTTP bodies.
void BoundsMetrics(const ReplicaCounters& c, PrometheusText& m) {
  const char* epoch_help =
      "Epochs and ids refused for being more than limits.epoch_step_max above the highest "
      "known, by what carried them.";
  m.Counter("duplex_epoch_refused_total", epoch_help, c.epochs_refused_peer,
            {{"what", "peer_epoch"}});
  m.Counter("duplex_epoch_refused_total", epoch_help, c.epochs_refused_assignment,
            {{"what", "assignment_epoch"}});
  m.Counter("duplex_epoch_refused_total", epoch_help, c.ids_refused_assignment,
            {{"what", "assignment_sync_id"}});
  m.Counter("duplex_admin_jobs_refused_total",
            "Digest and checkpoint requests refused: limits.admin_jobs_max jobs under way.",
            c.admin_jobs_refused);
  m.Level("duplex_client_connections", "Client connections open on the client port.",
          c.client_connections_open);
  m.Counter("duplex_client_connections_refused_total",
            "Client connections closed at accept: limits.client_connections_max are open.",
            c.client_connections_refused);
  const char* closed_help = "Client connections closed for a bound, by reason.";
  m.Counter("duplex_client_connections_closed_total", closed_help, c.client_closed_idle,
            {{"reason", "idle_timeout"}});
  m.Counter("duplex_client_connections_closed_total", closed_help, c.client_closed_partial_frame,
            {{"reason", "partial_frame"}});
  m.Counter("duplex_client_connections_closed_total", closed_help, c.client_closed_input_bytes,
            {{"reason", "input_bytes"}});
  m.Counter("duplex_zmq_messages_refused_total",
            "ZeroMQ messages dropped unread: more parts than limits.zmq_parts_max.",
            c.zmq_messages_refused_parts, {{"reason", "parts"}});
  m.Counter("duplex_http_bodies_refused_total",
            "HTTP requests refused (413): a body above limits.http_body_bytes_max.",
            c.http_bodies_refused);
}

}  // namespace

std::string MetricsText(const StatusReport& s, const ReplicaCounters& c) {
  // In sync is a standby's state (ReplicaCore::BuildStatus); an active is never "in sync".
  DUPLEX_ASSERT(!s.in_sync || s.role == WireRole::kStandby, "only a standby is in sync",
                WireRoleName(s.role));
  DUPLEX_ASSERT(s.applied_epoch <= s.epoch, "the last delta is of an epoch already adopted",
                s.applied_epoch, s.epoch);
  PrometheusText m;
  m.Level("duplex_replica_info", "The replica, its version and its role (always 1).", 1,
          {{"replica", s.replica},
           {"version", s.version},
           {"role", WireRoleName(s.role)},
           {"state", s.role_path},
           {"cluster_version", s.cluster_version}});
  m.Level("duplex_active", "1 while this replica is the active.", s.role == WireRole::kActive);
  m.Level("duplex_in_sync", "1 while this replica is a standby in sync with the active.",
          s.in_sync);
  m.Level("duplex_healthy", "1 when the processor and the store report healthy.", s.healthy);
  m.Level("duplex_epoch", "The highest epoch this replica has adopted.", s.epoch);
  m.Level("duplex_coordinator_term",
          "The highest coordinator term this replica has taken an assignment of (0: embedded).",
          s.coordinator_term);
  m.Level("duplex_applied_seq", "The sequence number of the last committed delta.", s.applied_seq);
  m.Level("duplex_schema", "The state schema version of the running processor.", s.schema);
  m.Level("duplex_standby_lag_ops", "Active: deltas committed but not yet acked by the standby.",
          s.lag_ops);
  // Histograms since the process started: quantiles come from histogram_quantile() over a
  // rate(), for any window, and sum across replicas (a ring buffer's p99 does neither).
  m.Histogram("duplex_request_latency_seconds",
              "Active: request latency, from a request's receipt to its answer.",
              c.request_latency);
  m.Histogram("duplex_standby_commit_lag_seconds",
              "Standby: from the active's send of a delta batch to the standby's commit of it.",
              c.standby_commit_lag);
  m.Counter("duplex_requests_total", "Requests answered as the active.", c.requests_answered);
  m.Counter("duplex_server_errors_total", "Answers that failed on the replica's side.",
            c.server_errors);
  m.Counter("duplex_deltas_committed_total", "Deltas committed to the store.", c.deltas_committed);
  m.Counter("duplex_group_commits_total", "Durable writes to the store (each one fsync).",
            c.group_commits);
  m.Counter("duplex_refused_frames_total", "Malformed or out-of-place frames refused.",
            c.refused_frames);
  m.Counter("duplex_stale_epoch_frames_total", "Frames of an older epoch ignored.",
            c.stale_epoch_frames);
  m.Counter("duplex_stale_term_assignments_total",
            "Assignments ignored: from a coordinator term below the highest seen.",
            c.stale_term_assignments);
  BoundsMetrics(c, m);
  m.Counter("duplex_gaps_total", "Standby: gaps found in the delta stream (each one a resync).",
            c.gaps);
  m.Counter("duplex_duplicate_deltas_total", "Standby: deltas received twice and skipped.",
            c.duplicates);
  m.Counter("duplex_sessions_expired_total",
            "Active: client session entries erased after idling past the expiry.",
            c.sessions_expired);
  m.Counter("duplex_snapshots_sent_total", "Active: snapshots started for a standby.",
            c.snapshots_sent);
  m.Counter("duplex_snapshots_installed_total", "Standby: snapshots installed.",
            c.snapshots_installed);
  return m.Take();
}

}  // namespace duplex
