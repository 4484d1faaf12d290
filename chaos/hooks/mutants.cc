#include "chaos/hooks/mutants.h"

#include <cstdlib>

namespace duplex {

std::string_view MutantName(Mutant mutant) {
  switch (mutant) {
    case Mutant::kAckBeforeReplication:
      return "ack-before-replication";
    case Mutant::kSkipFsync:
      return "skip-fsync";
    case Mutant::kSkipEpochCheck:
      return "skip-epoch-check";
    case Mutant::kEnableFlagsEarly:
      return "enable-flags-early";
    case Mutant::kStaleLeader:
      return "stale-leader";
    case Mutant::kStaleRead:
      return "stale-read";
    case Mutant::kPromoteWithoutLeaseWait:
      return "promote-without-lease-wait";
    case Mutant::kReadUncommitted:
      return "read-uncommitted";
  }
  return "?";
}

StatusOr<Mutant> MutantNamed(std::string_view name) {
  for (int i = 0; i < kMutantCount; ++i) {
    auto mutant = static_cast<Mutant>(i);
    if (MutantName(mutant) == name) return mutant;
  }
  return InvalidArgument("\"" + std::string(name) + "\" is not a known mutant");
}

StatusOr<MutantSet> MutantSet::Parse(std::string_view list) {
  MutantSet set;
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view name = list.substr(0, comma);
    list.remove_prefix(comma == std::string_view::npos ? list.size() : comma + 1);
    if (name.empty()) continue;
    StatusOr<Mutant> mutant = MutantNamed(name);
    if (!mutant.ok()) return mutant.status();
    set.Add(*mutant);
  }
  return set;
}

StatusOr<MutantSet> MutantSet::FromEnvironment() {
  const char* list = std::getenv("DUPLEX_MUTANTS");
  StatusOr<MutantSet> set = Parse(list == nullptr ? "" : list);
  if (!set.ok()) return InvalidArgument("DUPLEX_MUTANTS: " + set.status().message());
  return set;
}

void ApplyReadMutants(const MutantSet& mutants, ReplicaOptions* options) {
  if (mutants.Has(Mutant::kStaleRead)) options->unleased_reads = &ReadsWhileOnceActive;
  if (mutants.Has(Mutant::kPromoteWithoutLeaseWait)) options->promote_wait = &ServeAtOnce;
  if (mutants.Has(Mutant::kReadUncommitted)) options->reads_wait = &ReadsAnsweredAtOnce;
}

}  // namespace duplex
