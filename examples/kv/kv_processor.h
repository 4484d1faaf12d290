// The reference processor: a key-value service (PUT/GET/DEL/INCR) run as a
// duplex pair. 1.x stores raw values (schema 1); 2.x adds per-key expiry (schema 2,
// feature `expiry`). Stateless apart from the replicated key space; called from the
// replica's event loop only.
#pragma once

#include <memory>
#include <string>

#include "replica/processor.h"

namespace duplex::kv {

// version "1.x.y" or "2.x.y"; variant "" or a deliberately broken 2.x release:
// "crash" (handled by the binary's main), "unhealthy", "corrupt"; or "veto" (1.x or
// 2.x), whose application refuses every upgrade with a reason.
std::unique_ptr<Processor> MakeKvProcessor(const std::string& version,
                                           const std::string& variant = "");

}  // namespace duplex::kv
