// The coordinator's view in the Prometheus text format, served at /metrics on its admin
// port: the epoch and the active, each replica's process and sync state, failovers and
// switchovers by kind, the upgrade campaign, and this coordinator's leadership, term and etcd.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "upgrade_coordinator/arbiter.h"

namespace duplex {

// view: what GET /status shows (ViewJson plus lock, cluster_version, campaign, refused
// control frames, coordinator, leader_changes, etcd); transitions: every failover and switchover
// since the process started.
std::string CoordinatorMetricsText(const nlohmann::json& view,
                                   const std::vector<TransitionEvent>& transitions);

}  // namespace duplex
