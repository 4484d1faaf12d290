// Elector and EtcdRecordStore against real etcd members (/usr/bin/etcd): one member, and three
// that lose members and quorum. Every wait is bounded; measured times are printed.
#include "upgrade_coordinator/etcd/elector.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <functional>
#include <iostream>

#include "chaos/lab/etcd_process.h"
#include "chaos/lab/nft_isolation.h"
#include "common/clock.h"
#include "upgrade_coordinator/etcd/etcd_record_store.h"
#include "upgrade_coordinator/etcd/etcd_test_ports.h"

namespace duplex {
namespace {

constexpr int kHealthyMs = 15000;
constexpr int kElectMs = 5000;  // a first election, with nobody in the way

// Polls `done` every 2 ms for at most timeout_ms; how long it took, or -1.
int64_t WaitForMs(int timeout_ms, const std::function<bool()>& done) {
  int64_t start_us = NowUs();
  while (true) {
    if (done()) return (NowUs() - start_us) / 1000;
    if (NowUs() - start_us > int64_t{timeout_ms} * 1000) return -1;
    SleepMs(2);
  }
}

class ElectorTest : public ::testing::Test {
 protected:
  void StartCluster(int members) {
    ASSERT_EQ(::access(lab::kEtcdBinary, X_OK), 0)
        << "these tests need etcd: " << lab::kEtcdBinary
        << " is missing (install it with scripts/install-deps: Debian's etcd-server)";
    int port = etcd_test::FreePortRun(2 * members);
    ASSERT_NE(port, 0) << "no free ports in 31000-31999";
    auto cluster = lab::EtcdCluster::Start(members, "127.0.0.1", port, kHealthyMs);
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    cluster_ = std::move(cluster).value();
  }

  std::string Prefix() const {
    return std::string("/duplex/") +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }

  std::unique_ptr<Elector> StartElector(const std::string& name, int ttl_s,
                                        std::vector<std::string> endpoints = {},
                                        const std::string& source = "") {
    ElectorOptions options;
    options.election.prefix = Prefix();
    options.election.self_value = name;
    options.election.lease_ttl_s = ttl_s;
    options.client.endpoints = endpoints.empty() ? cluster_->Endpoints() : endpoints;
    options.client.source_address = source;
    options.name = name;
    auto elector = Elector::Start(options);
    EXPECT_TRUE(elector.ok()) << elector.status().ToString();
    return elector.ok() ? std::move(elector).value() : nullptr;
  }

  std::unique_ptr<EtcdClient> Client() {
    auto client = EtcdClient::Create({cluster_->Endpoints(), "", 200, 1000});
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(client).value() : nullptr;
  }

  std::unique_ptr<lab::EtcdCluster> cluster_;
};

TEST_F(ElectorTest, TheFencedStoreRefusesAWriteOnceTheLeaderKeyChangedHands) {
  StartCluster(1);
  auto a = StartElector("h1", 1);
  ASSERT_NE(a, nullptr);
  ASSERT_GE(WaitForMs(kElectMs, [&] { return a->View().acting; }), 0);
  uint64_t term_a = a->View().term;
  EtcdRecordStore store_a(Client(), Prefix(), term_a);
  ClusterRecord record;
  record.epoch = 3;
  record.active = "a";
  ASSERT_TRUE(store_a.Save(record).ok());
  ASSERT_TRUE(store_a.Put("campaign", "soak").ok());
  EXPECT_EQ(store_a.Load()->value(), record);
  EXPECT_EQ(store_a.Get("campaign")->value(), "soak");
  EXPECT_FALSE(store_a.Get("nothing")->has_value());

  auto b = StartElector("h2", 1);
  ASSERT_NE(b, nullptr);
  ASSERT_GE(WaitForMs(kElectMs, [&] { return b->View().leader_value == "h1"; }), 0);
  EXPECT_FALSE(b->View().acting);
  a->Resign();
  EXPECT_FALSE(a->View().acting);
  int64_t took_ms = WaitForMs(kElectMs, [&] { return b->View().acting; });
  ASSERT_GE(took_ms, 0);
  std::cout << "measured: election after resign " << took_ms << " ms\n";
  uint64_t term_b = b->View().term;
  EXPECT_GT(term_b, term_a);

  record.epoch = 4;
  Status refused = store_a.Save(record);
  EXPECT_TRUE(IsLeadershipLost(refused)) << refused.ToString();
  EXPECT_NE(refused.message().find("held by h2"), std::string::npos) << refused.ToString();
  EXPECT_TRUE(IsLeadershipLost(store_a.Put("campaign", "finalize")));
  EtcdRecordStore store_b(Client(), Prefix(), term_b);
  EXPECT_EQ(store_b.Load()->value().epoch, 3u);
  ASSERT_TRUE(store_b.Save(record).ok());
  EXPECT_EQ(store_a.Load()->value().epoch, 4u);  // reads are not fenced
  EXPECT_EQ(store_b.Get("campaign")->value(), "soak");
  EtcdRecordStore follower(Client(), Prefix(), 0);
  EXPECT_EQ(follower.Load()->value().epoch, 4u);
  EXPECT_TRUE(IsLeadershipLost(follower.Save(record)));
}

TEST_F(ElectorTest, TwoElectorsNeverActAtOnce) {
  StartCluster(1);
  auto a = StartElector("h1", 1);
  auto b = StartElector("h2", 1);
  ASSERT_TRUE(a && b);
  int handovers = 0;
  int64_t deadline_us = NowUs() + 6'000'000;
  while (NowUs() < deadline_us) {
    // a at t1, b at t2, a at t3: a acting at t1 and t3 is acting throughout, t2 included.
    bool a1 = a->View().acting;
    bool b2 = b->View().acting;
    bool a3 = a->View().acting;
    ASSERT_FALSE(a1 && b2 && a3) << "both act";
    bool b4 = b->View().acting;
    ASSERT_FALSE(b2 && a3 && b4) << "both act";
    // Hand over every so often, each way.
    if (handovers < 6 && (a1 || b2) && NowUs() > deadline_us - 6'000'000 + handovers * 700'000) {
      (a1 ? a : b)->Resign();
      ++handovers;
    }
  }
  EXPECT_EQ(handovers, 6);
  EXPECT_GE(WaitForMs(kElectMs, [&] { return a->View().acting || b->View().acting; }), 0);
}

TEST_F(ElectorTest, AKilledEtcdEndsActingWithinTheTtlAndTheErrorNamesTheEndpoint) {
  StartCluster(1);
  auto a = StartElector("h1", 1);
  ASSERT_NE(a, nullptr);
  ASSERT_GE(WaitForMs(kElectMs, [&] { return a->View().acting; }), 0);
  cluster_->Kill(0);
  int64_t stopped_ms = WaitForMs(1000, [&] { return !a->View().acting; });
  ASSERT_GE(stopped_ms, 0) << "still acting a ttl after etcd died";
  int64_t noticed_ms = WaitForMs(2000, [&] { return !a->View().etcd_reachable; });
  ASSERT_GE(noticed_ms, 0);
  std::cout << "measured: etcd killed -> not acting " << stopped_ms << " ms, unreachable "
            << noticed_ms << " ms later\n";
  LeaderView view = a->View();
  EXPECT_NE(view.etcd_error.find(cluster_->Endpoints()[0]), std::string::npos) << view.etcd_error;
}

TEST_F(ElectorTest, AFrozenEtcdIsReportedWithinASecondAndLeadershipReturnsAfterTheThaw) {
  StartCluster(1);
  auto a = StartElector("h1", 1);
  ASSERT_NE(a, nullptr);
  ASSERT_GE(WaitForMs(kElectMs, [&] { return a->View().acting; }), 0);
  ASSERT_EQ(::kill(cluster_->member(0).pid(), SIGSTOP), 0);
  int64_t unreachable_ms = WaitForMs(1200, [&] { return !a->View().etcd_reachable; });
  int64_t stopped_ms = WaitForMs(1000, [&] { return !a->View().acting; });
  ::kill(cluster_->member(0).pid(), SIGCONT);
  ASSERT_GE(unreachable_ms, 0) << "a frozen etcd still counts as reachable";
  ASSERT_GE(stopped_ms, 0) << "still acting a ttl after etcd froze";
  std::cout << "measured: etcd frozen -> unreachable " << unreachable_ms << " ms, not acting "
            << unreachable_ms + stopped_ms << " ms\n";
  EXPECT_NE(a->View().etcd_error.find(cluster_->Endpoints()[0]), std::string::npos)
      << a->View().etcd_error;
  ASSERT_GE(WaitForMs(kElectMs, [&] { return a->View().acting && a->View().etcd_reachable; }), 0);
}

// Deletes the test's nftables table however the test ends.
struct HealOnExit {
  explicit HealOnExit(const lab::NftIsolation& nft) : nft_(nft) {}
  ~HealOnExit() {
    Status healed = nft_.Heal();
    EXPECT_TRUE(healed.ok()) << healed.ToString();
  }
  const lab::NftIsolation& nft_;
};

TEST_F(ElectorTest, ALeaderCutOffEtcdByNftablesStepsDownAndAnotherTakesOver) {
  ASSERT_TRUE(lab::RequireRoot("this test").ok()) << "nftables needs root";
  StartCluster(1);
  // Each elector leaves from a host address of its own, as on the lab.
  auto a = StartElector("h1", 1, {}, "127.0.7.1");
  ASSERT_NE(a, nullptr);
  ASSERT_GE(WaitForMs(kElectMs, [&] { return a->View().acting; }), 0);
  auto b = StartElector("h2", 1, {}, "127.0.8.1");
  ASSERT_NE(b, nullptr);
  ASSERT_GE(WaitForMs(kElectMs, [&] { return b->View().leader_value == "h1"; }), 0);

  lab::NftIsolation nft("etcdtest_" + std::to_string(::getpid()));
  HealOnExit heal(nft);
  int64_t cut_us = NowUs();
  ASSERT_TRUE(nft.Apply({"127.0.7.1", lab::Direction::kBoth, ""}).ok());
  ASSERT_GE(WaitForMs(1000, [&] { return !a->View().acting; }), 0) << "acting a ttl after the cut";
  ASSERT_GE(WaitForMs(kElectMs, [&] { return b->View().acting; }), 0);
  std::cout << "measured: leader cut off etcd -> another leader acting "
            << (NowUs() - cut_us) / 1000 << " ms\n";
  EXPECT_FALSE(a->View().acting);
  EXPECT_FALSE(a->View().etcd_reachable);

  ASSERT_TRUE(nft.Heal().ok());
  ASSERT_GE(WaitForMs(kElectMs, [&] { return a->View().leader_value == "h2"; }), 0);
  EXPECT_FALSE(a->View().acting);
  EXPECT_TRUE(b->View().acting);
}

TEST_F(ElectorTest, ALeaderWhoseLeaseExpiresIsReplacedAfterItsTtl) {
  StartCluster(1);
  // A leader that dies at once: its key on a lease that nobody keeps alive.
  auto client = Client();
  ASSERT_NE(client, nullptr);
  int64_t granted_us = NowUs();
  StatusOr<EtcdLease> lease = client->LeaseGrant(1);
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  EtcdTxn txn;
  txn.success.push_back({EtcdOp::Kind::kPut, Prefix() + "/leader", "dead", lease->id, false});
  ASSERT_TRUE(client->Txn(txn).ok());
  auto b = StartElector("h2", 1);
  ASSERT_NE(b, nullptr);
  ASSERT_GE(WaitForMs(kElectMs, [&] { return b->View().leader_value == "dead"; }), 0);
  ASSERT_GE(WaitForMs(kElectMs, [&] { return b->View().acting; }), 0);
  std::cout << "measured: leader's last keepalive -> new leader acting (ttl 1) "
            << (NowUs() - granted_us) / 1000 << " ms\n";
}

TEST_F(ElectorTest, ThreeMembersKeepALeaderWithOneDownAndNoneWithoutQuorum) {
  StartCluster(3);
  std::vector<std::string> endpoints = cluster_->Endpoints();
  auto a = StartElector("h1", 2, endpoints);
  auto b = StartElector("h2", 2, {endpoints[2], endpoints[1], endpoints[0]});
  ASSERT_TRUE(a && b);
  ASSERT_GE(WaitForMs(kElectMs, [&] { return a->View().acting || b->View().acting; }), 0);
  Elector& leader = a->View().acting ? *a : *b;
  uint64_t term = leader.View().term;

  cluster_->Kill(0);
  // Still the leader, term unchanged, for well over a ttl.
  int64_t until_us = NowUs() + 3'000'000;
  while (NowUs() < until_us) {
    ASSERT_TRUE(leader.View().acting);
    ASSERT_EQ(leader.View().term, term);
    SleepMs(5);
  }

  cluster_->Kill(1);
  int64_t stopped_ms = WaitForMs(2000, [&] { return !a->View().acting && !b->View().acting; });
  ASSERT_GE(stopped_ms, 0) << "someone acts without quorum a ttl later";
  std::cout << "measured: quorum lost -> nobody acting " << stopped_ms << " ms\n";
  EXPECT_FALSE(leader.View().etcd_reachable);

  int64_t restart_us = NowUs();
  ASSERT_TRUE(cluster_->Restart(0, kHealthyMs).ok());
  ASSERT_TRUE(cluster_->Restart(1, kHealthyMs).ok());
  int64_t back_ms = WaitForMs(10000, [&] { return a->View().acting || b->View().acting; });
  ASSERT_GE(back_ms, 0) << "no leader after quorum returned";
  std::cout << "measured: two members restarted -> a leader acting "
            << (NowUs() - restart_us) / 1000 << " ms\n";
}

}  // namespace
}  // namespace duplex
