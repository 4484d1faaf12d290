// Small files read by another process while they change (fault and crash-point control
// files): written whole or not at all.
#pragma once

#include <string>

#include "common/status.h"

namespace duplex {

// Writes `text` to path.tmp, then renames it over path: a reader sees the old file or the
// new one, never half of it.
Status WriteFileAtomically(const std::string& path, const std::string& text);

}  // namespace duplex
