// Checks over the coordinator's event log (upgrade_coordinator/event_log.h): the
// invariants of DESIGN.md that are about roles, epochs and feature flags rather than
// client data (chaos/workload.h checks the data). Each returns one line per
// violation, naming when and who; empty when the history is clean. Pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace duplex {

// No feature enabled while an old-version replica ran: whenever a live replica enables
// features up to cluster version C, and whenever the cluster record's version rises to
// C, every live replica reports a version >= C.
std::vector<std::string> CheckFeatureGate(const std::vector<nlohmann::json>& events);

// Fencing: at most one replica reports itself active in any epoch, and epochs only grow
// (for each replica, and in the cluster record).
std::vector<std::string> CheckEpochs(const std::vector<nlohmann::json>& events);

}  // namespace duplex
