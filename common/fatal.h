// Fatal: the one way a duplex process stops when it must not go on. There are two
// reasons: a durable write failed (a replica's store, the coordinator's record: nothing
// may be decided without it, and in a pair a crash is only a failover), or an assertion
// found a bug. By default both log and end the process: _exit(70) for the first, abort()
// for the second. The simulator installs a handler that throws, so that one simulated
// process dies (or the seed fails) and the run goes on. The handler is process-wide:
// install it once, before any core runs.
#pragma once

#include <functional>
#include <string>

#include "common/status.h"

namespace duplex {

enum class FatalKind {
  kDurability,  // a write that must be durable failed: stop, resume from what is stored
  kAssertion,   // an invariant did not hold: a bug
};

// Must not return; it may throw.
using FatalHandler = std::function<void(FatalKind kind, const std::string& what)>;

// Installs `handler` for every later Fatal and failed DUPLEX_ASSERT; empty restores the
// default. Not thread-safe with a concurrent Fatal: call it at startup.
void SetFatalHandler(FatalHandler handler);

// A durable write failed (`status` says which and why): the process stops.
[[noreturn]] void Fatal(const Status& status);

}  // namespace duplex
