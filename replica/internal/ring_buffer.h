// RingBuffer: the last `capacity` values pushed, for figures over a recent window (the
// standby's replication lag, the active's answer latencies). Fixed capacity: once full,
// each push overwrites the oldest value. Owned by one part of the replica core;
// single-threaded.
#pragma once

#include <cstddef>
#include <vector>

#include "common/assert.h"

namespace duplex {

template <typename T>
class RingBuffer {
 public:
  explicit RingBuffer(size_t capacity) : capacity_(capacity) {
    DUPLEX_ASSERT(capacity_ > 0, "a ring buffer holds at least one value");
  }

  void Push(T value) {
    if (values_.size() < capacity_) {
      values_.push_back(std::move(value));
    } else {
      values_[next_++ % capacity_] = std::move(value);
    }
    DUPLEX_ASSERT(values_.size() <= capacity_, "size", values_.size(), "capacity", capacity_);
  }

  // The values held, in no particular order (the oldest is overwritten first).
  const std::vector<T>& values() const { return values_; }
  size_t capacity() const { return capacity_; }

 private:
  size_t capacity_;
  std::vector<T> values_;
  size_t next_ = 0;  // where the next push goes once full (modulo capacity)
};

}  // namespace duplex
