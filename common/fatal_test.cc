#include "common/fatal.h"

#include <gtest/gtest.h>

#include "common/assert.h"

namespace duplex {
namespace {

struct Caught {
  FatalKind kind;
  std::string what;
};

class FatalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetFatalHandler([](FatalKind kind, const std::string& what) { throw Caught{kind, what}; });
  }
  void TearDown() override { SetFatalHandler(nullptr); }
};

TEST_F(FatalTest, AFailedDurableWriteReachesTheInstalledHandlerWithItsReason) {
  try {
    Fatal(Status(Code::kIOError, "disk full"));
    FAIL() << "Fatal returned";
  } catch (const Caught& c) {
    EXPECT_EQ(c.kind, FatalKind::kDurability);
    EXPECT_NE(c.what.find("disk full"), std::string::npos) << c.what;
  }
}

TEST_F(FatalTest, AFailedAssertionReachesTheSameHandlerWithItsOperands) {
  int seq = 14, last = 72;
  try {
    DUPLEX_ASSERT(seq == last + 1, "seq", seq, "last", last);
    FAIL() << "the assertion passed";
  } catch (const Caught& c) {
    EXPECT_EQ(c.kind, FatalKind::kAssertion);
    EXPECT_NE(c.what.find("seq == last + 1"), std::string::npos) << c.what;
    EXPECT_NE(c.what.find("seq 14 last 72"), std::string::npos) << c.what;
  }
}

TEST(FatalDeathTest, WithoutAHandlerAFailedDurableWriteExitsWith70) {
  EXPECT_EXIT(Fatal(Status(Code::kIOError, "disk full")), ::testing::ExitedWithCode(70), "");
}

TEST(FatalDeathTest, WithoutAHandlerAFailedAssertionAborts) {
  EXPECT_DEATH(DUPLEX_ASSERT(1 + 1 == 3, "sum", 1 + 1), "assertion failed: 1 \\+ 1 == 3; sum 2");
}

}  // namespace
}  // namespace duplex
