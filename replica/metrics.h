// A replica's figures in the Prometheus text exposition format (version 0.0.4), served
// on its HTTP port at /metrics. Counters end in _total; every family has HELP and TYPE; the
// page passes `promtool check metrics`. Rendered on the HTTP thread from published copies.
#pragma once

#include <string>

#include "replica/frame.h"
#include "replica/replica_core.h"

namespace duplex {

// For GET /status (lag_ms_p50, lag_ms_p99, read by `duplex bench`): the standby's
// send-to-commit time of recent deltas. /metrics has the histogram instead.
struct LagQuantiles {
  double p50_ms = 0;
  double p99_ms = 0;
};

// The latencies come as histograms from counters (request_latency, standby_commit_lag).
std::string MetricsText(const StatusReport& status, const ReplicaCounters& counters);

}  // namespace duplex
