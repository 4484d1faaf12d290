// LatencyHistogram: latencies counted into fixed buckets (50 us .. 5 s, then +Inf), as a
// Prometheus histogram exposes them (cumulative bucket counts, sum, count). Sans-I/O and
// cheap: Observe is a short search and two adds on a fixed array, no allocation. Not
// thread-safe: its owner observes on one thread and copies it to publish.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

namespace duplex {

class LatencyHistogram {
 public:
  // Upper bounds of the buckets, in microseconds; an observation above the last one counts
  // only in +Inf. 1-2.5-5 steps cover a local write (tens of us) to a stalled disk (seconds).
  static constexpr std::array<int64_t, 16> kBoundsUs = {
      50,    100,   250,    500,    1000,   2500,    5000,    10000,
      25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000};
  static constexpr size_t kBuckets = kBoundsUs.size() + 1;  // the last one is +Inf

  void Observe(int64_t latency_us) {
    latency_us = std::max<int64_t>(latency_us, 0);  // a clock step never makes it negative
    auto bound = std::lower_bound(kBoundsUs.begin(), kBoundsUs.end(), latency_us);
    ++counts_[static_cast<size_t>(bound - kBoundsUs.begin())];
    sum_us_ += static_cast<uint64_t>(latency_us);
    ++count_;
  }

  // Observations at most kBoundsUs[bucket] (bucket == kBoundsUs.size(): all of them).
  uint64_t CumulativeCount(size_t bucket) const {
    uint64_t n = 0;
    for (size_t i = 0; i <= bucket && i < kBuckets; ++i) n += counts_[i];
    return n;
  }
  uint64_t count() const { return count_; }
  uint64_t sum_us() const { return sum_us_; }

 private:
  std::array<uint64_t, kBuckets> counts_{};  // per bucket, not cumulative
  uint64_t sum_us_ = 0;
  uint64_t count_ = 0;
};

}  // namespace duplex
