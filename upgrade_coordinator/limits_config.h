// What the values of `limits:` must satisfy beyond being positive integers, checked when the
// cluster config is read: each error names the field, the range and the value. Stateless.
#pragma once

#include "common/status.h"
#include "common/yaml_fields.h"
#include "upgrade_coordinator/cluster_types.h"

namespace duplex {

// The section (`limits`, perhaps not written) and the values read from it.
Status CheckLimits(const YamlField& section, const LimitsConfig& limits);

}  // namespace duplex
