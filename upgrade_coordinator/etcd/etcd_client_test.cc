// EtcdClient and EtcdRecordStore against a real one-member etcd (/usr/bin/etcd).
#include "upgrade_coordinator/etcd/etcd_client.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "chaos/lab/etcd_process.h"
#include "common/clock.h"
#include "upgrade_coordinator/etcd/etcd_test_ports.h"

namespace duplex {
namespace {

constexpr int kHealthyMs = 15000;

class EtcdClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::access(lab::kEtcdBinary, X_OK), 0)
        << "these tests need etcd: " << lab::kEtcdBinary
        << " is missing (install it with scripts/install-deps: Debian's etcd-server)";
    int port = etcd_test::FreePortRun(2);
    ASSERT_NE(port, 0) << "no free ports in 31000-31999";
    auto cluster = lab::EtcdCluster::Start(1, "127.0.0.1", port, kHealthyMs);
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    cluster_ = std::move(cluster).value();
  }

  std::unique_ptr<EtcdClient> Client(std::vector<std::string> endpoints = {},
                                     std::string source = "") {
    EtcdClientOptions options;
    options.endpoints = endpoints.empty() ? cluster_->Endpoints() : endpoints;
    options.source_address = source;
    auto client = EtcdClient::Create(options);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(client).value() : nullptr;
  }

  std::unique_ptr<lab::EtcdCluster> cluster_;
};

EtcdTxn PutIfAbsent(const std::string& key, const std::string& value, int64_t lease = 0) {
  EtcdTxn txn;
  txn.compares.push_back({EtcdCompare::Target::kCreateRevision, key, 0, ""});
  txn.success.push_back({EtcdOp::Kind::kPut, key, value, lease, false});
  txn.failure.push_back({EtcdOp::Kind::kRange, key, "", 0, false});
  return txn;
}

TEST_F(EtcdClientTest, TxnPutsOnceThenRangesAndRangeReadsByKeyAndPrefix) {
  auto client = Client();
  ASSERT_NE(client, nullptr);
  StatusOr<EtcdTxnResult> first = client->Txn(PutIfAbsent("/t/a", std::string("v\0\xff", 3)));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(first->succeeded);
  StatusOr<EtcdTxnResult> second = client->Txn(PutIfAbsent("/t/a", "other"));
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_FALSE(second->succeeded);
  ASSERT_EQ(second->ranges.size(), 1u);
  ASSERT_EQ(second->ranges[0].size(), 1u);
  EXPECT_EQ(second->ranges[0][0].value, std::string("v\0\xff", 3));
  EXPECT_EQ(second->ranges[0][0].create_revision, first->revision);
  ASSERT_TRUE(client->Txn(PutIfAbsent("/t/b", "2")).ok());
  ASSERT_TRUE(client->Txn(PutIfAbsent("/u", "3")).ok());
  StatusOr<EtcdRangeResult> prefix = client->Range("/t/", true);
  ASSERT_TRUE(prefix.ok()) << prefix.status().ToString();
  ASSERT_EQ(prefix->kvs.size(), 2u);
  EXPECT_EQ(prefix->kvs[0].key, "/t/a");
  EXPECT_EQ(prefix->kvs[1].key, "/t/b");
  StatusOr<EtcdRangeResult> missing = client->Range("/nothing");
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->kvs.empty());
}

TEST_F(EtcdClientTest, LeaseGrantKeepAliveAndRevokeRoundTrip) {
  auto client = Client();
  ASSERT_NE(client, nullptr);
  StatusOr<EtcdLease> lease = client->LeaseGrant(5);
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  EXPECT_EQ(lease->ttl_s, 5);
  ASSERT_TRUE(client->Txn(PutIfAbsent("/l/key", "x", lease->id)).ok());
  StatusOr<int> ttl_s = client->LeaseKeepAlive(lease->id);
  ASSERT_TRUE(ttl_s.ok()) << ttl_s.status().ToString();
  EXPECT_EQ(*ttl_s, 5);
  ASSERT_TRUE(client->LeaseRevoke(lease->id).ok());
  // The key went with its lease; a revoked lease keeps alive with ttl 0 and revokes NotFound.
  EXPECT_TRUE(client->Range("/l/key")->kvs.empty());
  EXPECT_EQ(*client->LeaseKeepAlive(lease->id), 0);
  Status again = client->LeaseRevoke(lease->id);
  EXPECT_EQ(again.code(), Code::kNotFound) << again.ToString();
}

TEST_F(EtcdClientTest, MovesToTheNextEndpointWhenOneIsDown) {
  int dead_port = etcd_test::FreePortRun(1);
  std::string dead = "http://127.0.0.1:" + std::to_string(dead_port);
  auto client = Client({dead, cluster_->Endpoints()[0]});
  ASSERT_NE(client, nullptr);
  StatusOr<EtcdRangeResult> range = client->Range("/x");
  ASSERT_TRUE(range.ok()) << range.status().ToString();
  EXPECT_EQ(client->current_endpoint(), cluster_->Endpoints()[0]);
}

TEST_F(EtcdClientTest, ErrorsNameTheEndpointAndTheCall) {
  std::string endpoint = cluster_->Endpoints()[0];
  auto client = Client();
  ASSERT_NE(client, nullptr);
  cluster_->Kill(0);
  StatusOr<EtcdRangeResult> range = client->Range("/x");
  ASSERT_FALSE(range.ok());
  EXPECT_EQ(range.status().code(), Code::kUnavailable);
  EXPECT_NE(range.status().message().find("etcd " + endpoint + ": POST /v3/kv/range: "),
            std::string::npos)
      << range.status().message();
}

TEST_F(EtcdClientTest, ConnectionsLeaveFromTheSourceAddress) {
  auto client = Client({}, "127.0.9.1");
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Range("/x").ok());
  auto unbindable = Client({}, "10.255.255.1");  // not an address of this machine
  ASSERT_NE(unbindable, nullptr);
  StatusOr<EtcdRangeResult> range = unbindable->Range("/x");
  ASSERT_FALSE(range.ok());
  EXPECT_NE(range.status().message().find("cannot bind source address 10.255.255.1"),
            std::string::npos)
      << range.status().message();
}

TEST(EtcdClient, RefusesEndpointsThatAreNotHttpHostPort) {
  for (const char* bad :
       {"127.0.0.1:2379", "http://127.0.0.1", "http://h:0", "https://h:1", "http://h:70000"}) {
    auto client = EtcdClient::Create({{bad}, "", 200, 1000});
    ASSERT_FALSE(client.ok()) << bad;
    EXPECT_NE(client.status().message().find(bad), std::string::npos) << client.status().message();
  }
  EXPECT_FALSE(EtcdClient::Create({{"http://h:1"}, "not-an-address", 200, 1000}).ok());
  EXPECT_FALSE(EtcdClient::Create({{}, "", 200, 1000}).ok());
}

}  // namespace
}  // namespace duplex
