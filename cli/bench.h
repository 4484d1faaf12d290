// `duplex bench failover|replication`: figures from real processes on
// loopback, printed as tables (or one JSON object), never asserted on.
#pragma once

#include <string>

namespace duplex::cli {

struct BenchOptions {
  std::string what;
  int runs = 20;
  double seconds = 3.0;
  bool json = false;
  std::string dir;
  uint64_t keys = 1000000;  // upgrade: keys loaded before the campaign
};

int RunBench(const std::string& duplex_binary, const BenchOptions& options);

}  // namespace duplex::cli
