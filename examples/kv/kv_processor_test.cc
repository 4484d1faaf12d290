#include "examples/kv/kv_processor.h"

#include <gtest/gtest.h>

#include <map>

namespace duplex::kv {
namespace {

class MapReader : public StateReader {
 public:
  StatusOr<std::optional<std::string>> Get(std::string_view key) const override {
    auto it = data.find(std::string(key));
    if (it == data.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  std::map<std::string, std::string> data;
};

Outcome Exec(Processor& p, MapReader& state, std::string op, std::vector<std::string> args) {
  FeatureSet features({}, {1, 0, 0});
  Outcome o = p.Execute({1, 1, std::move(op), std::move(args)}, state, features);
  for (const auto& m : o.mutations) {
    if (m.erase) {
      state.data.erase(m.key);
    } else {
      state.data[m.key] = m.value;
    }
  }
  return o;
}

TEST(Kv, PutGetDelIncr) {
  auto p = MakeKvProcessor("1.0.0");
  MapReader s;
  EXPECT_EQ(Exec(*p, s, "PUT", {"k", "v"}).response.value, "OK");
  EXPECT_EQ(Exec(*p, s, "GET", {"k"}).response.value, "v");
  EXPECT_TRUE(Exec(*p, s, "GET", {"k"}).mutations.empty());
  EXPECT_EQ(Exec(*p, s, "INCR", {"n", "5"}).response.value, "5");
  EXPECT_EQ(Exec(*p, s, "INCR", {"n", "-7"}).response.value, "-2");
  EXPECT_EQ(Exec(*p, s, "DEL", {"k"}).response.value, "1");
  EXPECT_EQ(Exec(*p, s, "DEL", {"k"}).response.value, "0");
  EXPECT_EQ(Exec(*p, s, "GET", {"k"}).response.code, Code::kNotFound);
}

TEST(Kv, RefusesBadRequestsWithAClearMessageAndNoDelta) {
  auto p = MakeKvProcessor("1.0.0");
  MapReader s;
  s.data["word"] = "hello";
  Outcome o = Exec(*p, s, "INCR", {"word", "1"});
  EXPECT_EQ(o.response.code, Code::kInvalidArgument);
  EXPECT_EQ(o.response.message, "value of \"word\" is not an integer: \"hello\"");
  EXPECT_TRUE(o.mutations.empty());
  EXPECT_EQ(Exec(*p, s, "INCR", {"n", "x1"}).response.message, "amount is not an integer: \"x1\"");
  EXPECT_EQ(Exec(*p, s, "PUT", {"k"}).response.code, Code::kInvalidArgument);
  EXPECT_EQ(Exec(*p, s, "FLY", {}).response.message,
            "unknown op \"FLY\" (kv 1.0.0 has PUT, GET, DEL, INCR)");
  s.data["big"] = "9223372036854775807";
  EXPECT_EQ(Exec(*p, s, "INCR", {"big", "1"}).response.code, Code::kInvalidArgument);
}

}  // namespace
}  // namespace duplex::kv
