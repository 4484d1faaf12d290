#include "state_sync/wire_codec.h"

#include <gtest/gtest.h>

namespace duplex {
namespace {

TEST(WireCodec, ADeltaSurvivesTheRoundTrip) {
  Delta d;
  d.epoch = 3;
  d.seq = 99;
  d.schema = 2;
  d.mutations = {{"k", std::string("v\0w", 3), false}, {"gone", "", true}};
  d.client_id = 12;
  d.session = {5, 0, "", "OK"};
  auto back = DecodeDelta(EncodeDelta(d));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, d);
}

TEST(WireCodec, GarbageIsAnErrorNotACrash) {
  for (std::string junk :
       {std::string(), std::string(7, 'x'), std::string(64, '\xff'), std::string(8, '\0'),
        std::string("\x00\x00\x00\x00\xff\xff\xff\x7f", 8)}) {
    auto d = DecodeDelta(junk);
    EXPECT_FALSE(d.ok()) << "decoded " << junk.size() << " bytes of junk";
  }
  EXPECT_FALSE(DecodeSession("short").ok());
  std::string lying = EncodeSession({1, 0, "msg", "v"});
  lying[23] = 100;  // message length past the end
  EXPECT_EQ(DecodeSession(lying).status().code(), Code::kCorruption);
}

}  // namespace
}  // namespace duplex
