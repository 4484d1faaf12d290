#include "upgrade_coordinator/etcd/etcd_json.h"

#include <gtest/gtest.h>

namespace duplex {
namespace {

TEST(EtcdJson, Base64RoundTripsEveryLengthAndByte) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  for (size_t n = 0; n < 10; ++n) {
    std::string part = bytes.substr(250 - n, n);
    StatusOr<std::string> back = Base64Decode(Base64Encode(part));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, part);
  }
  EXPECT_EQ(Base64Encode("/t/leader"), "L3QvbGVhZGVy");
  EXPECT_EQ(*Base64Decode("aDE="), "h1");
  EXPECT_EQ(Base64Decode(Base64Encode(bytes)).value(), bytes);
}

TEST(EtcdJson, Base64RefusesBadTextWithItsOffset) {
  EXPECT_EQ(Base64Decode("abc").status().message(), "base64 of length 3 (not a multiple of 4)");
  EXPECT_EQ(Base64Decode("ab!d").status().message(), "base64 has a bad character at offset 2");
  EXPECT_FALSE(Base64Decode("a=bc").ok());
  EXPECT_FALSE(Base64Decode("ab=c").ok());
  EXPECT_FALSE(Base64Decode("ab==abcd").ok());
}

TEST(EtcdJson, PrefixRangeEndRaisesTheLastByte) {
  EXPECT_EQ(PrefixRangeEnd("/a/"), "/a0");
  EXPECT_EQ(PrefixRangeEnd(std::string("a\xff", 2)), "b");
  EXPECT_EQ(PrefixRangeEnd(""), std::string(1, '\0'));
}

TEST(EtcdJson, DecodesATxnThatFailedWithTheRangeOfTheFailureBranch) {
  std::string body =
      R"({"header":{"revision":"2"},"responses":[{"response_range":{"header":{"revision":"2"},)"
      R"("kvs":[{"key":"L3QvbGVhZGVy","create_revision":"2","mod_revision":"2","version":"1",)"
      R"("value":"aDE=","lease":"1615000408255236104"}],"count":"1"}}]})";
  StatusOr<EtcdTxnResult> txn = DecodeTxn(body);
  ASSERT_TRUE(txn.ok()) << txn.status().ToString();
  EXPECT_FALSE(txn->succeeded);
  EXPECT_EQ(txn->revision, 2);
  ASSERT_EQ(txn->ranges.size(), 1u);
  ASSERT_EQ(txn->ranges[0].size(), 1u);
  EXPECT_EQ(txn->ranges[0][0].key, "/t/leader");
  EXPECT_EQ(txn->ranges[0][0].value, "h1");
  EXPECT_EQ(txn->ranges[0][0].lease, 1615000408255236104);
}

TEST(EtcdJson, HostileAnswersAreErrorsThatSayWhatWasWrong) {
  EXPECT_EQ(DecodeRange("[1]").status().code(), Code::kCorruption);
  StatusOr<EtcdRangeResult> bad = DecodeRange(R"({"kvs":[{"key":"%%%%"}]})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("key: base64 has a bad character"), std::string::npos)
      << bad.status().message();
  EXPECT_FALSE(DecodeRange(R"({"header":{"revision":"12x"}})").ok());
  EXPECT_FALSE(DecodeTxn(R"({"responses":{}})").ok());
  EXPECT_FALSE(DecodeLeaseGrant(R"({"ID":"0","TTL":"1"})").ok());
  EXPECT_FALSE(DecodeLeaseKeepAlive("not json").ok());
}

TEST(EtcdJson, AnExpiredLeaseKeepsAliveWithTtlZero) {
  EXPECT_EQ(*DecodeLeaseKeepAlive(R"({"result":{"header":{},"ID":"5","TTL":"2"}})"), 2);
  EXPECT_EQ(*DecodeLeaseKeepAlive("{\"result\":{\"header\":{},\"ID\":\"5\"}}\n"), 0);
  EXPECT_EQ(DecodeLeaseGrant(R"({"ID":"5","TTL":"1"})")->id, 5);
}

TEST(EtcdJson, GatewayErrorsMapToCodes) {
  Status lease = DecodeError(404, R"({"error":"etcdserver: requested lease not found",)"
                                  R"("message":"etcdserver: requested lease not found","code":5})");
  EXPECT_EQ(lease.code(), Code::kNotFound);
  EXPECT_EQ(lease.message(), "etcdserver: requested lease not found");
  EXPECT_EQ(DecodeError(503, R"({"message":"etcdserver: request timed out","code":14})").code(),
            Code::kUnavailable);
  EXPECT_EQ(DecodeError(502, "<html>bad gateway</html>").code(), Code::kUnavailable);
  EXPECT_EQ(DecodeError(400, R"({"message":"bad","code":3})").code(), Code::kInvalidArgument);
}

TEST(EtcdJson, TxnRequestCarriesCompareAndBothBranches) {
  EtcdTxn txn;
  txn.compares.push_back({EtcdCompare::Target::kCreateRevision, "/p/leader", 7, ""});
  txn.success.push_back({EtcdOp::Kind::kPut, "/p/record", "x", 9, false});
  txn.failure.push_back({EtcdOp::Kind::kRange, "/p/", "", 0, true});
  std::string body = TxnRequestJson(txn);
  EXPECT_NE(body.find(R"("create_revision":"7")"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("target":"CREATE")"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("lease":"9")"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("range_end":")" + Base64Encode("/p0") + "\""), std::string::npos) << body;
}

}  // namespace
}  // namespace duplex
