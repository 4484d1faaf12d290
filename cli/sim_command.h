// `duplex sim`: deterministic simulation over many seeds (chaos/simulation.h), or one
// seed replayed with its trace. Exit status 0 only when no run violated an invariant.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace duplex::cli {

struct SimCommandOptions {
  uint64_t seed = 1;   // the first seed (with --seeds) or the one replayed
  uint64_t seeds = 0;  // 0: just `seed`
  bool trace = false;
  bool json = false;
  bool hashes = false;  // print each seed's trace hash (diff two runs to prove determinism)
  int jobs = 2;
  std::vector<std::string> mutants;
  int coordinators = 0;  // 0: drawn per seed; 1 (embedded) or 3 (elected on etcd) forces it
};

int RunSim(const SimCommandOptions& options);

}  // namespace duplex::cli
