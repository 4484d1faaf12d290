#include "chaos/simulation.h"

#include "chaos/sim/fatal_handler.h"
#include "chaos/sim/world.h"

namespace duplex::sim {

SimResult Simulate(const SimOptions& options) {
  InstallFatalHandler();
  World world(options);
  try {
    return world.Run();
  } catch (const AssertionFailed& failed) {
    SimResult out;
    out.seed = options.seed;
    out.violations.push_back("assertion: " + failed.what);
    return out;
  }
}

std::string ReplayCommand(uint64_t seed) {
  return "build/duplex sim --seed " + std::to_string(seed) + " --trace";
}

}  // namespace duplex::sim
