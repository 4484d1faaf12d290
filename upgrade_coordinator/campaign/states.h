// The composite states of the campaign machine (tree in machine.h). Each composite
// starts in a small Entry state declared here, whose reaction (in the composite's .cc)
// moves to the composite's first step: the steps stay private to that .cc, and
// transitions between files only ever target composites. Resuming, Running and the two
// ends are defined in states.cc.
#pragma once

#include "upgrade_coordinator/campaign/machine.h"

namespace duplex::campaign {

struct Running;
struct RollingBack;

struct Resuming : sc::state<Resuming, Machine> {
  using reactions = sc::custom_reaction<EvTick>;
  explicit Resuming(my_context ctx);
  sc::result react(const EvTick&);

 private:
  std::optional<int64_t> resumed_ms_;  // the first tick
};

#define DUPLEX_CAMPAIGN_COMPOSITE(Name, Outer)               \
  struct Name##Entry;                                        \
  struct Name : sc::state<Name, Outer, Name##Entry> {        \
    explicit Name(my_context ctx);                           \
  };                                                         \
  struct Name##Entry : sc::simple_state<Name##Entry, Name> { \
    using reactions = sc::custom_reaction<EvTick>;           \
    sc::result react(const EvTick&);                         \
  };

struct PrepareEntry;
struct Running : sc::simple_state<Running, Machine, struct Prepare> {
  using reactions = sc::custom_reaction<EvAbort>;
  sc::result react(const EvAbort&);
};

DUPLEX_CAMPAIGN_COMPOSITE(Prepare, Running)
DUPLEX_CAMPAIGN_COMPOSITE(UpgradeFirst, Running)
DUPLEX_CAMPAIGN_COMPOSITE(Evaluate, Running)
DUPLEX_CAMPAIGN_COMPOSITE(UpgradeSecond, Running)
DUPLEX_CAMPAIGN_COMPOSITE(Conclude, Running)
DUPLEX_CAMPAIGN_COMPOSITE(RollingBack, Machine)

struct Completed : sc::state<Completed, Machine> {
  explicit Completed(my_context ctx);
};
struct RolledBack : sc::state<RolledBack, Machine> {
  explicit RolledBack(my_context ctx);
};

}  // namespace duplex::campaign
