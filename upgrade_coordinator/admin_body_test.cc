#include "upgrade_coordinator/admin_body.h"

#include <gtest/gtest.h>

namespace duplex {
namespace {

TEST(AdminBody, AnEmptyBodyIsAnEmptyObject) {
  auto body = ParseAdminBody("");
  ASSERT_TRUE(body.ok()) << body.status().ToString();
  EXPECT_TRUE(body->is_object());
  EXPECT_TRUE(body->empty());
}

TEST(AdminBody, TextThatIsNotAJsonObjectIsRefused) {
  for (const char* text : {"{", "[1,2]", "\"path\"", "17", "null"}) {
    auto body = ParseAdminBody(text);
    ASSERT_FALSE(body.ok()) << text;
    EXPECT_EQ(body.status().message(), "body: a JSON object is required") << text;
  }
}

TEST(AdminBody, UpgradeStartReadsEveryFieldAndDefaultsTheRest) {
  auto start = DecodeUpgradeStart(*ParseAdminBody(R"({"to":"2.0.0","force":true})"));
  ASSERT_TRUE(start.ok()) << start.status().ToString();
  EXPECT_EQ(start->to, "2.0.0");
  EXPECT_EQ(start->package, "");
  EXPECT_EQ(start->soak_ms, 5000);
  EXPECT_FALSE(start->auto_finalize);
  EXPECT_TRUE(start->force);
}

// Found while writing fuzz/admin_body_fuzz.cc: nlohmann's value() throws a type_error for a field
// of another type, which escaped the decoder ({"path": 1} on POST /packages).
TEST(AdminBody, AFieldOfTheWrongTypeIsAnErrorNamingIt) {
  auto add = DecodeAddPackage(*ParseAdminBody(R"({"path": 1})"));
  ASSERT_FALSE(add.ok());
  EXPECT_EQ(add.status().message(), "path: must be a string");
  auto start = DecodeUpgradeStart(*ParseAdminBody(R"({"to":"2.0.0","force":"yes"})"));
  ASSERT_FALSE(start.ok());
  EXPECT_EQ(start.status().message(), "force: must be true or false");
  start = DecodeUpgradeStart(*ParseAdminBody(R"({"to":"2.0.0","soak_ms":18446744073709551615})"));
  ASSERT_FALSE(start.ok());
  EXPECT_EQ(start.status().message(), "soak_ms: must be an integer");
  start = DecodeUpgradeStart(*ParseAdminBody(R"({"to":"2.0.0","soak_ms":-1})"));
  ASSERT_FALSE(start.ok());
  EXPECT_EQ(start.status().message(), "soak_ms: must not be negative");
  start = DecodeUpgradeStart(*ParseAdminBody(R"({"package":"kv"})"));
  ASSERT_FALSE(start.ok());
  EXPECT_EQ(start.status().message(), "to: required");
}

}  // namespace
}  // namespace duplex
