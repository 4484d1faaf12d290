// ReplicaMain: main() of a processor binary (examples/kv/kv_main.cc), the replica's wiring.
// It parses the flags the coordinator passes, builds the parts the daemon receives (and,
// for the chaos harness, the faulty ones from chaos/hooks/) and runs the daemon. Linked
// only by executables (duplex::replica_main); runs on the main thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "replica/processor.h"

namespace duplex {

// Flags: --name, --port, --client-port, --http-port, --coordinator (every coordinator's
// control endpoint, comma-separated), --data-dir, ...; for the chaos harness only,
// --fault-file and the environment variable DUPLEX_MUTANTS (chaos/hooks/mutants.h).
// Returns the process exit code: 2 when a flag is bad (the reason on stderr).
int ReplicaMain(int argc, char** argv, std::unique_ptr<Processor> processor);

// --coordinator's comma-separated list ("tcp://127.0.1.1:7401,tcp://127.0.2.1:7401"), one
// endpoint or several. Errors name the bad item: empty, not tcp://host:port, listed twice,
// or too many (kCoordinatorEndpointsMax, daemon.h).
StatusOr<std::vector<std::string>> ParseCoordinatorEndpoints(std::string_view list);

}  // namespace duplex
