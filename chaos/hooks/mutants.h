// Mutants: deliberate bugs that the chaos harness switches on to prove that its checker
// catches them (chaos/scenarios/mutant-*.yaml, `duplex sim --mutant NAME`). The process
// harness names them in the environment variable DUPLEX_MUTANTS (comma-separated), which
// the executables' wiring reads once at start-up into a MutantSet and turns into behaviour
// handed to the cores; the cores never see a mutant's name. Plain values; thread-compatible.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

#include "common/status.h"
#include "replica/replica_options.h"
#include "upgrade_coordinator/campaign/host.h"

namespace duplex {

enum class Mutant {
  kAckBeforeReplication,  // replicas: acknowledge after the local commit only
  kSkipFsync,             // replicas: never fsync a commit
  kSkipEpochCheck,        // replicas: catch-up rule TailResumesInAnyEpoch
  kEnableFlagsEarly,      // coordinator: feature gate FeaturesOnAnyReload
  // coordinator: keeps its leader state and acts after its election stopped saying it acts
  // (a leader frozen or cut off from etcd acts on a stale view when it wakes)
  kStaleLeader,
  // replicas: a replica once active answers reads from its own state after its lease ran out
  // or it was deposed (read rule ReadsWhileOnceActive)
  kStaleRead,
  // replicas: a promoted replica serves at once, without waiting out the old active's
  // lease (promote rule ServeAtOnce)
  kPromoteWithoutLeaseWait,
  // replicas: the active answers a read at once, before the writes before it are
  // replicated (read rule ReadsAnsweredAtOnce)
  kReadUncommitted,
};
inline constexpr int kMutantCount = 8;

// "ack-before-replication", "skip-fsync", "skip-epoch-check", "enable-flags-early",
// "stale-leader", "stale-read", "promote-without-lease-wait", "read-uncommitted".
std::string_view MutantName(Mutant mutant);
// The mutant of that name; an unknown name is an error that names it.
StatusOr<Mutant> MutantNamed(std::string_view name);

class MutantSet {
 public:
  MutantSet() = default;
  MutantSet(std::initializer_list<Mutant> mutants) {
    for (Mutant m : mutants) Add(m);
  }
  // A comma-separated list of names ("" = none); an unknown name is an error that names it.
  static StatusOr<MutantSet> Parse(std::string_view list);
  // The list in DUPLEX_MUTANTS (unset = none). Call once, at start-up.
  static StatusOr<MutantSet> FromEnvironment();

  bool Has(Mutant mutant) const { return (bits_ & Bit(mutant)) != 0; }
  void Add(Mutant mutant) { bits_ |= Bit(mutant); }
  bool empty() const { return bits_ == 0; }

 private:
  static unsigned Bit(Mutant mutant) { return 1u << static_cast<int>(mutant); }
  unsigned bits_ = 0;
};

// The skip-epoch-check mutant's catch-up rule: the standby's log tail resumes whatever the
// epoch of its last entry, so a deposed active's unreplicated entries are kept.
constexpr bool TailResumesInAnyEpoch(const StandbyTail&) { return true; }

// The stale-read mutant's read rule: a replica that was active answers reads from its own
// state, whoever is active now.
constexpr bool ReadsWhileOnceActive(const UnleasedRead& read) { return read.was_active; }

// The promote-without-lease-wait mutant's rule: a promoted replica serves at once, while
// the old active may still hold a lease and answer reads.
constexpr int64_t ServeAtOnce(const PromoteWait& wait) { return wait.now_us; }

// The read-uncommitted mutant's rule: a read is answered at once, from the active's
// uncommitted state.
constexpr bool ReadsAnsweredAtOnce() { return false; }

// The replica options of the read mutants in `mutants` (stale-read,
// promote-without-lease-wait, read-uncommitted): the daemon's wiring and the simulator's.
void ApplyReadMutants(const MutantSet& mutants, ReplicaOptions* options);

// The enable-flags-early mutant's feature gate: a version's features turn on as soon as
// one replica is reloaded to it, while the other still runs the old version.
constexpr bool FeaturesOnAnyReload(const std::string&) { return true; }

}  // namespace duplex
