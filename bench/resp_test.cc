#include "bench/resp.h"

#include <gtest/gtest.h>

namespace duplex::bench {
namespace {

// Every reply the parser returns for `bytes`, fed in one piece.
std::vector<RespValue> ParseAll(const std::string& bytes) {
  RespParser p;
  p.Feed(bytes);
  std::vector<RespValue> out;
  for (;;) {
    auto next = p.Next();
    EXPECT_TRUE(next.ok()) << next.status().ToString();
    if (!next.ok() || !next->has_value()) break;
    out.push_back(std::move(**next));
  }
  EXPECT_EQ(p.buffered_bytes(), 0u);
  return out;
}

Status ErrorOf(const std::string& bytes) {
  RespParser p;
  p.Feed(bytes);
  for (;;) {
    auto next = p.Next();
    if (!next.ok()) return next.status();
    if (!next->has_value()) return Status::Ok();
  }
}

RespValue Nested() {
  return RespValue::Array({RespValue::Simple("OK"), RespValue::Error("ERR no"),
                           RespValue::Integer(-42), RespValue::Bulk("a\r\nb"), RespValue::Null(),
                           RespValue::Array({}),
                           RespValue::Array({RespValue::Bulk(""), RespValue::Integer(0)})});
}

TEST(Resp, EncodesACommandAsAnArrayOfBulkStrings) {
  EXPECT_EQ(EncodeCommand({"SET", "k", "v 1"}), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nv 1\r\n");
  EXPECT_EQ(EncodeCommand({"GET", ""}), "*2\r\n$3\r\nGET\r\n$0\r\n\r\n");
}

TEST(Resp, ParsesEveryReplyTypeBack) {
  for (const RespValue& v : {RespValue::Simple("OK"), RespValue::Error("READONLY You can't write"),
                             RespValue::Integer(9223372036854775807), RespValue::Integer(-1),
                             RespValue::Bulk(std::string("bin\0ary\r\n", 9)), RespValue::Bulk(""),
                             RespValue::Null(), Nested()}) {
    auto parsed = ParseAll(EncodeReply(v));
    ASSERT_EQ(parsed.size(), 1u) << v.DebugString();
    EXPECT_EQ(parsed[0], v) << "expected " << v.DebugString() << "; got "
                            << parsed[0].DebugString();
  }
}

TEST(Resp, ParsesACommandLikeAnyArray) {
  auto parsed = ParseAll(EncodeCommand({"WAIT", "1", "0"}));
  ASSERT_EQ(parsed.size(), 1u);
  EXPECT_EQ(parsed[0], RespValue::Array(
                           {RespValue::Bulk("WAIT"), RespValue::Bulk("1"), RespValue::Bulk("0")}));
}

TEST(Resp, ReadsTheNullArrayAsNull) {
  auto parsed = ParseAll("*-1\r\n");
  ASSERT_EQ(parsed.size(), 1u);
  EXPECT_EQ(parsed[0].type, RespValue::Type::kNull);
}

TEST(Resp, WaitsForTheRestWhenFedOneByteAtATime) {
  const RespValue v = Nested();
  const std::string bytes = EncodeReply(v) + EncodeReply(RespValue::Simple("OK"));
  RespParser p;
  std::vector<RespValue> got;
  for (size_t i = 0; i < bytes.size(); ++i) {
    p.Feed(bytes.substr(i, 1));
    auto next = p.Next();
    ASSERT_TRUE(next.ok()) << next.status().ToString();
    if (next->has_value()) got.push_back(std::move(**next));
    // The nested reply is complete exactly at its last byte, not before.
    const size_t first_end = EncodeReply(v).size();
    EXPECT_EQ(got.size(), i + 1 >= bytes.size() ? 2u : (i + 1 >= first_end ? 1u : 0u))
        << "after byte " << i;
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], v);
  EXPECT_TRUE(got[1].IsOk());
}

TEST(Resp, SplitsPipelinedRepliesFromOneBuffer) {
  std::string bytes;
  for (int i = 0; i < 100; ++i) {
    bytes += EncodeReply(RespValue::Simple("OK")) + EncodeReply(RespValue::Integer(i));
  }
  auto parsed = ParseAll(bytes);
  ASSERT_EQ(parsed.size(), 200u);
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(parsed[2 * i].IsOk());
    EXPECT_EQ(parsed[2 * i + 1], RespValue::Integer(i));
  }
}

TEST(Resp, NamesWhatIsWrongWithMalformedInput) {
  const std::pair<std::string, std::string> cases[] = {
      {"$x1\r\nab\r\n", "RESP: bad length 'x1' in bulk string header"},
      {"$\r\n", "RESP: bad length '' in bulk string header"},
      {"$-2\r\n", "RESP: negative length -2 in bulk string header"},
      {"$2\r\nabc\r\n", "RESP: bulk string of 2 bytes not followed by CRLF"},
      {"*1x\r\n", "RESP: bad length '1x' in array header"},
      {":12a\r\n", "RESP: bad integer '12a' in integer reply"},
      {":99999999999999999999\r\n", "RESP: bad integer '99999999999999999999' in integer reply"},
      {"!oops\r\n", "RESP: unknown type byte '!' (0x21) at the start of a reply"},
      {std::string("\x01", 1), "RESP: unknown type byte 0x01 at the start of a reply"},
      {"+OK\n", "RESP: LF without CR after 'OK'"},
      {"+O\rK\r\n", "RESP: stray CR in 'O\rK'"},
      {"$99999999999\r\n", "RESP: length 99999999999 in bulk string header exceeds the limit"},
  };
  for (const auto& [bytes, want] : cases) {
    Status s = ErrorOf(bytes);
    EXPECT_EQ(s.code(), Code::kCorruption) << bytes;
    EXPECT_EQ(s.message().rfind(want, 0), 0u) << "input " << bytes << "; got " << s.message();
  }
}

TEST(Resp, KeepsReportingTheErrorOnceTheStreamIsBroken) {
  RespParser p;
  p.Feed("+OK\r\n$x\r\n+OK\r\n");
  auto first = p.Next();
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_FALSE(p.Next().ok());
  p.Feed("+OK\r\n");
  EXPECT_FALSE(p.Next().ok());
}

TEST(Resp, RefusesNestingAndLinesBeyondItsLimits) {
  RespLimits limits;
  limits.depth_max = 3;
  limits.line_bytes_max = 16;
  RespParser deep(limits);
  deep.Feed("*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n");
  auto d = deep.Next();
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message(), "RESP: arrays nested deeper than 3");
  RespParser line(limits);
  line.Feed("+" + std::string(40, 'a'));
  auto l = line.Next();
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().message().rfind("RESP: line longer than 16 bytes without CRLF", 0), 0u);
  RespParser ok(limits);
  ok.Feed("*1\r\n*1\r\n*1\r\n:1\r\n");
  auto o = ok.Next();
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_TRUE(o->has_value());
}

}  // namespace
}  // namespace duplex::bench
