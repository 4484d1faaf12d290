#include "common/duration.h"

#include <gtest/gtest.h>

#include <string>

namespace duplex {
namespace {

TEST(ParseDurationMs, ReadsMillisecondsSecondsMinutesAndHours) {
  EXPECT_EQ(ParseDurationMs("500ms").value(), 500);
  EXPECT_EQ(ParseDurationMs("5s").value(), 5000);
  EXPECT_EQ(ParseDurationMs("2m").value(), 120000);
  EXPECT_EQ(ParseDurationMs("1h").value(), 3600000);
  EXPECT_EQ(ParseDurationMs("0s").value(), 0);
}

TEST(ParseDurationMs, RefusesBadTextNamingIt) {
  for (const char* bad : {"", "5", "5x", "s", "-5s", "1.5s", "5 s", "5S", " 5s"}) {
    StatusOr<int64_t> ms = ParseDurationMs(bad);
    ASSERT_FALSE(ms.ok()) << bad;
    EXPECT_EQ(ms.status().code(), Code::kInvalidArgument);
    EXPECT_NE(ms.status().message().find("\"" + std::string(bad) + "\""), std::string::npos)
        << ms.status().message();
  }
}

TEST(ParseDurationMs, RefusesDurationsBeyondTheLimit) {
  EXPECT_FALSE(ParseDurationMs("999999999999999999999999h").ok());
  EXPECT_FALSE(ParseDurationMs("100000h").ok());
  EXPECT_EQ(ParseDurationMs(std::to_string(kDurationMsMax) + "ms").value(), kDurationMsMax);
}

}  // namespace
}  // namespace duplex
