// The restart policy (Pacemaker's migration-threshold, with a growing backoff), shared by
// the coordinator (ReplicaTracker) and an agent left alone (AgentCore): the delay before
// restarting a crashed replica, or none when it crashed too often. Pure; any thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "upgrade_coordinator/cluster_types.h"

namespace duplex {

// Records a crash at now_us in `crashes_us` (those older than the window are dropped) and
// returns the delay before the restart: backoff_ms after the first crash in the window,
// doubled for each further one up to backoff_max_ms (a maximum below backoff_ms: no
// growth). nullopt when more than restarts_max crashes fall within the window.
inline std::optional<int64_t> RestartDelayMs(const RestartConfig& policy,
                                             std::vector<int64_t>* crashes_us, int64_t now_us) {
  const int64_t window_us = int64_t{policy.window_s} * 1000000;
  std::erase_if(*crashes_us, [&](int64_t t) { return now_us - t > window_us; });
  crashes_us->push_back(now_us);
  if (static_cast<int>(crashes_us->size()) > policy.restarts_max) return std::nullopt;
  const size_t doublings = std::min<size_t>(crashes_us->size() - 1, 20);
  const int64_t delay_ms =
      std::min<int64_t>(int64_t{policy.backoff_ms} << doublings, policy.backoff_max_ms);
  return std::max<int64_t>(delay_ms, policy.backoff_ms);
}

}  // namespace duplex
