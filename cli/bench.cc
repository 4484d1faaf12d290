#include "cli/bench.h"

#include <iostream>

namespace duplex::cli {
int RunBench(const std::string&, const BenchOptions&) {
  std::cerr << "bench: not yet\n";
  return 1;
}
}  // namespace duplex::cli
