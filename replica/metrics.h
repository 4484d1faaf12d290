// A replica's figures in the Prometheus text exposition format (version 0.0.4), served
// on its HTTP port at /metrics. Counters end in _total; every family has HELP and TYPE.
#pragma once

#include <string>

#include "replica/frame.h"
#include "replica/replica_core.h"

namespace duplex {

struct LagQuantiles {
  double p50_ms = 0;  // the standby's receipt-to-commit time of recent deltas
  double p99_ms = 0;
};

std::string MetricsText(const StatusReport& status, const ReplicaCounters& counters,
                        const LagQuantiles& lag);

}  // namespace duplex
