// How the simulator dies: it installs the process-wide fatal handler (common/fatal.h),
// which throws instead of exiting. A durable write that failed kills one simulated
// process and the run goes on; a failed assertion is a bug and fails the seed. Installed
// once per process; the exceptions are thrown on the thread that runs the simulation.
#pragma once

#include <string>

namespace duplex::sim {

struct ProcessDied {
  std::string why;
};
struct AssertionFailed {
  std::string what;
};

void InstallFatalHandler();

}  // namespace duplex::sim
