// The trace of a simulated run: one line per event worth telling, stamped with the
// simulated time, always hashed (state_sync/state_digest.h's Fnv1a) and kept as text when
// asked. Two runs of a seed must give the same hash. Owned by SimContext; single-threaded.
#pragma once

#include <cstdint>
#include <string>

#include "chaos/sim/event_queue.h"
#include "state_sync/state_digest.h"

namespace duplex::sim {

class Trace {
 public:
  Trace(const EventQueue& clock, bool keep_text) : clock_(clock), keep_text_(keep_text) {}

  void Line(const std::string& line);
  // Whether the text is kept; the network traces each delivery only then (so those
  // lines are in the hash only of a run that keeps its text).
  bool keeps_text() const { return keep_text_; }
  uint64_t hash() const { return hash_.value(); }
  std::string TakeText() { return std::move(text_); }

 private:
  const EventQueue& clock_;
  bool keep_text_;
  Fnv1a hash_;
  std::string text_;
};

}  // namespace duplex::sim
