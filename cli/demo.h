// `duplex demo`: the guided tour `make demo` runs. Deploys a pair from a
// scratch copy of examples/kv/cluster.yaml, writes under client load, kills
// the active with SIGKILL, shows the failover, switches over, upgrades the pair
// to kv 2.0.0 step by step, counts what was lost, and ends with one chaos scenario
// (the active killed while the new version is evaluated) judged on every invariant.
#pragma once

#include <string>

namespace duplex::cli {

struct DemoOptions {
  int writes_after_kill = 2000;
};

int RunDemo(const std::string& duplex_binary, const DemoOptions& options);

}  // namespace duplex::cli
