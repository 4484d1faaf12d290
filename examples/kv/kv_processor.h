// The reference processor: a key-value service (PUT/GET/DEL/INCR) run as a
// duplex pair. Stateless apart from the replicated key space; called from the
// replica's event loop only.
#pragma once

#include <memory>

#include "replica/processor.h"

namespace duplex::kv {

std::unique_ptr<Processor> MakeKvProcessor(const std::string& version);

}  // namespace duplex::kv
