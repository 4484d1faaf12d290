#include "feature_flags/feature_set.h"

#include <gtest/gtest.h>

namespace duplex {
namespace {

TEST(Version, ParsesThreePartsAndRefusesAnythingElse) {
  auto v = ParseVersion("2.10.3");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->ToString(), "2.10.3");
  for (const char* bad : {"", "1", "1.2", "1.2.x", "1.2.3.4", "a.b.c", "1..2"}) {
    EXPECT_FALSE(ParseVersion(bad).ok()) << bad;
  }
  EXPECT_LT(*ParseVersion("1.9.0"), *ParseVersion("1.10.0"));
}

TEST(FeatureSet, AFeatureIsOffUntilTheClusterReachesItsVersion) {
  std::vector<Feature> known = {{"expiry", {2, 0, 0}}};
  FeatureSet old_cluster(known, {1, 0, 0});
  Status s = old_cluster.Check("expiry");
  EXPECT_EQ(s.code(), Code::kFeatureDisabled);
  EXPECT_EQ(s.message(), "feature expiry is disabled until the cluster is upgraded to 2.0.0");
  EXPECT_TRUE(FeatureSet(known, {2, 0, 0}).Enabled("expiry"));
  EXPECT_EQ(old_cluster.Check("teleport").code(), Code::kNotFound);
}

}  // namespace
}  // namespace duplex
