// The bound on how far an epoch or id may jump: one more than step_max above the highest
// known is refused, never adopted (limits.epoch_step_max). Epochs and ids only grow by small
// steps (one per promotion, one per solo request, one per process start), so a jump past the
// bound is a forged or corrupted value, and adopting it would wedge whoever copies it (an
// epoch of 2^64-1 wraps at the next promotion). Pure functions; any thread.
#pragma once

#include <cstdint>

namespace duplex {

// The default of limits.epoch_step_max.
inline constexpr uint64_t kEpochStepMaxDefault = 1000000;

// True when `seen` is more than `step_max` above `known` (never true for seen <= known).
constexpr bool BeyondStep(uint64_t seen, uint64_t known, uint64_t step_max) {
  return seen > known && seen - known > step_max;
}

static_assert(!BeyondStep(5, 4, 1) && BeyondStep(6, 4, 1) && !BeyondStep(3, 4, 0));
static_assert(BeyondStep(UINT64_MAX, 0, kEpochStepMaxDefault), "2^64-1 is never one step");

}  // namespace duplex
