#include "state_sync/converter.h"

#include <gtest/gtest.h>

namespace duplex {
namespace {

ConverterRegistry Registry() {
  ConverterRegistry r;
  r.Register(1, 2, [](const Mutation& m) -> StatusOr<Mutation> {
    return Mutation{m.key, "v2:" + m.value, false};
  });
  r.Register(2, 1, [](const Mutation& m) -> StatusOr<Mutation> {
    if (m.value.rfind("v2:", 0) != 0) return InvalidArgument("not a v2 record");
    return Mutation{m.key, m.value.substr(3), false};
  });
  return r;
}

TEST(ConverterRegistry, ConvertsUpAndDownAndPassesErasuresThrough) {
  auto r = Registry();
  auto up = r.Convert({{"k", "x", false}, {"gone", "", true}}, 1, 2);
  ASSERT_TRUE(up.ok());
  EXPECT_EQ((*up)[0].value, "v2:x");
  EXPECT_TRUE((*up)[1].erase);
  auto down = r.Convert(*up, 2, 1);
  ASSERT_TRUE(down.ok());
  EXPECT_EQ((*down)[0].value, "x");
  EXPECT_TRUE(r.Convert({{"k", "x", false}}, 2, 2).ok());
}

TEST(ConverterRegistry, NamesTheMissingConverterAndTheRefusedEntry) {
  auto r = Registry();
  EXPECT_FALSE(r.CanConvert(1, 3));
  auto missing = r.Convert({{"k", "x", false}}, 2, 3);
  EXPECT_EQ(missing.status().message(), "no converter from state schema 2 to 3");
  auto refused = r.Convert({{"k", "plain", false}}, 2, 1);
  EXPECT_EQ(refused.status().message(), "schema 2 -> 1: not a v2 record");
}

}  // namespace
}  // namespace duplex
