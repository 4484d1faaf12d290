// Durations as people write them in flags and YAML: "500ms", "5s", "2m", "1h".
#pragma once

#include <cstdint>
#include <string_view>

#include "common/status.h"

namespace duplex {

// Milliseconds; anything else is an InvalidArgument naming the text. Whole numbers only,
// at most kDurationMsMax.
inline constexpr int64_t kDurationMsMax = int64_t{30} * 24 * 3600 * 1000;
StatusOr<int64_t> ParseDurationMs(std::string_view text);

}  // namespace duplex
