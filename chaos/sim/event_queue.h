// The simulated clock and its event queue: events run in time order, ties in the order
// they were scheduled, so a run is a pure function of its seed. Owned by SimContext;
// single-threaded (events run one at a time, on the caller of RunUntil).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace duplex::sim {

// Simulated time counts microseconds.
constexpr int64_t kMs = 1000;
constexpr int64_t kTickUs = 2 * kMs;  // each process's loop turn

class EventQueue {
 public:
  int64_t now() const { return now_; }
  uint64_t processed() const { return processed_; }

  // Runs fn at at_us (or now, if that has passed).
  void At(int64_t at_us, std::function<void()> fn);
  void After(int64_t delay_us, std::function<void()> fn);
  // Repeats fn every period while it returns true.
  void Every(int64_t period_us, std::function<bool()> fn);
  // Runs every event due by until_us; the clock then reads at least until_us.
  void RunUntil(int64_t until_us);

 private:
  struct Event {
    int64_t at;
    uint64_t seq;
    std::function<void()> fn;
    bool operator>(const Event& other) const {
      return at != other.at ? at > other.at : seq > other.seq;
    }
  };

  // A binary min-heap on (at, seq), kept by hand rather than in a std::priority_queue,
  // whose top() is const: an event is moved out of the heap to run, never copied (a copy
  // of its closure, with the strings it captured, was a heap allocation per event).
  std::vector<Event> heap_;
  int64_t now_ = 0;
  uint64_t next_seq_ = 0;
  uint64_t processed_ = 0;
};

}  // namespace duplex::sim
