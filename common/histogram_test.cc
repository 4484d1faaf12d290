#include "common/histogram.h"

#include <gtest/gtest.h>

namespace duplex {
namespace {

TEST(LatencyHistogram, CountsEachObservationInTheFirstBucketThatHoldsIt) {
  LatencyHistogram h;
  h.Observe(10);       // <= 50 us
  h.Observe(50);       // a bound belongs to its bucket (le: less or equal)
  h.Observe(51);       // <= 100 us
  h.Observe(3000);     // <= 5 ms
  h.Observe(7000000);  // above 5 s: +Inf only
  h.Observe(-5);       // taken as 0
  EXPECT_EQ(h.CumulativeCount(0), 3u);
  EXPECT_EQ(h.CumulativeCount(1), 4u);
  EXPECT_EQ(h.CumulativeCount(5), 4u);                                       // 2.5 ms
  EXPECT_EQ(h.CumulativeCount(6), 5u);                                       // 5 ms
  EXPECT_EQ(h.CumulativeCount(LatencyHistogram::kBoundsUs.size() - 1), 5u);  // 5 s
  EXPECT_EQ(h.CumulativeCount(LatencyHistogram::kBoundsUs.size()), 6u);      // +Inf
  EXPECT_EQ(h.count(), 6u);
  EXPECT_EQ(h.sum_us(), 10u + 50 + 51 + 3000 + 7000000);
}

TEST(LatencyHistogram, BoundsRiseFromFiftyMicrosecondsToFiveSeconds) {
  const auto& b = LatencyHistogram::kBoundsUs;
  EXPECT_EQ(b.front(), 50);
  EXPECT_EQ(b.back(), 5000000);
  EXPECT_TRUE(std::is_sorted(b.begin(), b.end()));
  EXPECT_EQ(std::adjacent_find(b.begin(), b.end()), b.end());
}

}  // namespace
}  // namespace duplex
