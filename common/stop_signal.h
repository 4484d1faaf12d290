// How a daemon (replica, coordinator) learns it should stop: SIGTERM or SIGINT set a
// flag its loop polls; SIGPIPE is ignored (a peer gone away is an error return, not death).
#pragma once

namespace duplex {

void InstallStopSignals();
bool StopRequested();

}  // namespace duplex
