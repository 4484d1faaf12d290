// Mutants: deliberate bugs switched on by the environment variable DUPLEX_MUTANTS
// (comma-separated names), so that the chaos harness can prove its checker catches
// them (chaos/scenarios/mutant-*.yaml). Read once at start-up by the daemons; never set
// in production. Known names: ack-before-replication, skip-fsync, skip-epoch-check
// (replicas), enable-flags-early (coordinator).
#pragma once

#include <cstdlib>
#include <string>
#include <string_view>

namespace duplex {

inline bool MutantEnabled(std::string_view name) {
  const char* list = std::getenv("DUPLEX_MUTANTS");
  if (list == nullptr) return false;
  std::string_view rest(list);
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    if (rest.substr(0, comma) == name) return true;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace duplex
