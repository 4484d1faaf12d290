#include "common/status.h"

#include <gtest/gtest.h>

namespace duplex {
namespace {

TEST(Status, OkByDefaultAndNamesTheCodeOtherwise) {
  EXPECT_TRUE(Status().ok());
  Status s = InvalidArgument("replicas[1].port: must be in 1..65535");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.ToString(), "InvalidArgument: replicas[1].port: must be in 1..65535");
}

TEST(StatusOr, HoldsAValueOrAnError) {
  StatusOr<int> v = 7;
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 7);
  StatusOr<int> e = NotFound("key k");
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), Code::kNotFound);
}

TEST(StatusOrDeathTest, ReadingTheValueOfAnErrorIsABug) {
  StatusOr<int> e = NotFound("key k");
  EXPECT_DEATH((void)e.value(), "assertion failed");
}

}  // namespace
}  // namespace duplex
