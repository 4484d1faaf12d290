// Wakeup: a file descriptor another thread makes readable to wake a loop out of its poll
// (an eventfd), so that the loop can wait for its next deadline instead of ticking. Owned
// by the loop; Notify() is safe from any thread, Clear() and fd() belong to the loop.
#pragma once

#include <cstdint>

namespace duplex {

// A poll's timeout (ms) to wait until deadline_us (steady us) from now_us, at most wait_max_ms.
// Rounded up: a loop woken a little early would turn again and again until the deadline.
int PollWaitMs(int64_t deadline_us, int64_t now_us, int wait_max_ms);

class Wakeup {
 public:
  Wakeup();
  ~Wakeup();
  Wakeup(const Wakeup&) = delete;
  Wakeup& operator=(const Wakeup&) = delete;

  void Notify();
  // Readable no more until the next Notify().
  void Clear();
  int fd() const { return fd_; }

 private:
  int fd_;
};

}  // namespace duplex
