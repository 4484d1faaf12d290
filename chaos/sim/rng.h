// The simulator's random stream: every random choice of a run comes from one of these,
// seeded from the run's seed. Owned by SimContext (and by parts with a stream of their
// own); single-threaded.
#pragma once

#include <cstdint>
#include <random>

namespace duplex::sim {

// Own arithmetic on the raw generator output, so a seed means the same run whatever the
// standard library's distributions do.
class Rng {
 public:
  explicit Rng(uint64_t seed) : g_(seed) {}
  uint64_t Next() { return g_(); }
  int64_t Uniform(int64_t lo, int64_t hi) {  // [lo, hi]
    return hi <= lo ? lo : lo + static_cast<int64_t>(Next() % static_cast<uint64_t>(hi - lo + 1));
  }
  double Unit() { return static_cast<double>(Next() >> 11) / 9007199254740992.0; }
  bool Chance(double p) { return Unit() < p; }

 private:
  std::mt19937_64 g_;
};

}  // namespace duplex::sim
