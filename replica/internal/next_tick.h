// NextTick: when the replica's event loop must call ReplicaCore::OnTick again if nothing
// arrives first. Each part of the core adds the timers it keeps (heartbeats, ack and quiet
// timeouts, sweeps); the earliest one still ahead of the last tick wins. Owned by the caller
// of ReplicaCore::NextTickUs for one call; single-threaded.
#pragma once

#include <cstdint>
#include <limits>

namespace duplex {

class NextTick {
 public:
  // now_us: the time OnTick last ran with. A timer at or before it was looked at then:
  // counting it again would turn the loop without end while its condition stays unmet.
  explicit NextTick(int64_t now_us) : now_us_(now_us) {}

  void At(int64_t deadline_us) {
    if (deadline_us > now_us_ && deadline_us < earliest_us_) earliest_us_ = deadline_us;
  }
  // A timeout checked as `now - since > timeout` fires one microsecond after since + timeout.
  void After(int64_t since_us, int64_t timeout_us) { At(since_us + timeout_us + 1); }
  // A part in transition (catching up, promoting, awaiting acks) whose timers are not
  // spelled out: ticked every kTransitionTickUs, as every part once was.
  void Soon() { At(now_us_ + kTransitionTickUs); }

  int64_t earliest_us() const { return earliest_us_; }

  static constexpr int64_t kTransitionTickUs = 2000;

 private:
  int64_t now_us_;
  int64_t earliest_us_ = std::numeric_limits<int64_t>::max();
};

}  // namespace duplex
