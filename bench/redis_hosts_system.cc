// The Redis side of `bench failover --hosts 2 --peer redis`: a RedisPeer whose processes carry
// the lab's host tags (primary a and Sentinel s1 on h1, replica b and s2 on h2, s3 on h3), so
// that the lab's crash and freeze (chaos/lab/host_processes.h) take a host's Sentinel down
// with its server. The writers are the one-host benchmark's: SET acknowledged by the primary.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "bench/hosts_system.h"
#include "bench/redis_load.h"
#include "bench/redis_peer.h"
#include "chaos/lab/host_processes.h"
#include "common/clock.h"

namespace duplex::bench {
namespace {

constexpr int kReadyTimeoutMs = 60000;
constexpr int kFirstAckTimeoutMs = 30000;
constexpr int kPollMs = 1;
// The host (index into the lab's hosts) of each node, in RedisPeer's order a, b, s1, s2, s3.
constexpr int kNodeHost[] = {0, 1, 0, 1, 2};

std::string HostName(int index) { return "h" + std::to_string(index + 1); }

class RedisHostsSystem final : public HostsSystem {
 public:
  explicit RedisHostsSystem(LabOptions options)
      : options_(std::move(options)),
        lab_id_("bench_redis_" + std::to_string(::getpid())),
        hosts_(lab_id_) {}
  ~RedisHostsSystem() override { Stop(); }

  std::string Name() const override { return "redis"; }
  std::string Describe() const override {
    return "a primary and one replica, three Sentinels (quorum 2, down-after-milliseconds 1000, "
           "failover-timeout 2000), no persistence, on a lab of three hosts: primary a and "
           "Sentinel s1 on h1 " +
           LabAddress(options_, 0) + ", replica b and s2 on h2 " + LabAddress(options_, 1) +
           ", s3 on h3 " + LabAddress(options_, 2) +
           " (each binds its host's address and 127.0.0.1, which every link uses); writers: SET "
           "acknowledged by the primary (no WAIT), following Sentinel as in the one-host "
           "benchmark";
  }

  StatusOr<FailoverTrial> Failover(HostFault fault) override;

  void Stop() override {
    if (peer_) peer_->Stop();
    peer_.reset();
  }

 private:
  StatusOr<RedisPeer*> Peer() {
    if (peer_) return peer_.get();
    RedisPeerOptions po;
    po.dir = options_.scratch + "/pair";
    PortSource ports(options_.first_port);
    for (int host : kNodeHost) {
      po.node_addresses.push_back(LabAddress(options_, host));
      po.node_env.push_back(lab::LabEnvironment(lab_id_, HostName(host)));
      po.node_ports.push_back(ports.Next());
    }
    auto peer = RedisPeer::Start(po);
    if (!peer.ok()) return peer.status();
    peer_ = std::move(peer).value();
    return peer_.get();
  }

  // The lab host of the node on `port`, -1 for none.
  int HostOfPort(int port) const {
    auto servers = peer_->ServerPorts();
    auto sentinels = peer_->SentinelPorts();
    for (int i = 0; i < 2; ++i) {
      if (servers[i] == port) return kNodeHost[i];
    }
    for (size_t i = 0; i < sentinels.size(); ++i) {
      if (sentinels[i] == port) return kNodeHost[2 + i];
    }
    return -1;
  }

  RedisWriterOptions Writers(const RedisPeer& p) {
    RedisWriterOptions w;
    w.sentinel_ports = p.SentinelPorts();
    w.clients = 3;
    w.attempt_timeout_ms = 50;
    w.primary_check_ms = 100;  // as the one-host benchmark's writers
    w.key_prefix = "h" + std::to_string(++trials_) + "-";
    return w;
  }

  // Boots the crashed host again: its server (as a replica of the new primary) and Sentinel.
  Status BootHost(RedisPeer& p, int host) {
    auto servers = p.ServerPorts();
    for (int i = 0; i < 2; ++i) {
      if (kNodeHost[i] == host) DUPLEX_RETURN_IF_ERROR(p.Restart(servers[i]));
    }
    auto sentinels = p.SentinelPorts();
    for (size_t i = 0; i < sentinels.size(); ++i) {
      if (kNodeHost[2 + i] == host) DUPLEX_RETURN_IF_ERROR(p.Restart(sentinels[i]));
    }
    return Status::Ok();
  }

  LabOptions options_;
  std::string lab_id_;  // the tag of this peer's processes
  lab::HostProcesses hosts_;
  std::unique_ptr<RedisPeer> peer_;
  int trials_ = 0;
};

StatusOr<FailoverTrial> RedisHostsSystem::Failover(HostFault fault) {
  auto started = Peer();
  if (!started.ok()) return started.status();
  RedisPeer& p = **started;
  DUPLEX_RETURN_IF_ERROR(p.WaitReady(kReadyTimeoutMs));
  RedisWriter writers(Writers(p));
  writers.Start();
  Status warm = writers.WaitAcked(200, 10000);
  auto old = p.PrimaryPort();
  if (!warm.ok() || !old.ok()) {
    writers.Stop();
    return !warm.ok() ? warm : old.status();
  }
  const int host = HostOfPort(*old);
  const int64_t t0 = NowUs();
  StatusOr<int> hit = 1;
  if (fault == HostFault::kHostCrash) {
    hit = hosts_.Crash(HostName(host));
  } else if (fault == HostFault::kHostFreeze) {
    hit = hosts_.Freeze(HostName(host));
  } else if (auto pid = p.SignalPrimary(SIGKILL); !pid.ok()) {
    hit = pid.status();
  }
  FailoverTrial trial;
  int64_t first = -1;
  for (int64_t deadline = t0 + kFirstAckTimeoutMs * 1000;
       hit.ok() && first < 0 && NowUs() < deadline;) {
    SleepMs(kPollMs);
    first = writers.FirstAckAfter(t0, *old);
  }
  if (first > 0) trial.first_ack_ms = (first - t0) / 1000.0;
  Status back = Status::Ok();
  if (fault == HostFault::kHostCrash) {
    back = BootHost(p, host);
  } else if (fault == HostFault::kHostFreeze) {
    hosts_.Thaw(HostName(host));
  } else {
    back = p.Restart(*old);
  }
  (void)writers.WaitAcked(writers.acked() + 50, 10000);
  writers.Stop();
  if (!hit.ok()) return hit.status();
  auto primary = p.PrimaryPort();
  if (!primary.ok()) return primary.status();
  auto lost = writers.CountLost(*primary);
  if (!lost.ok()) return lost.status();
  trial.lost = *lost;
  DUPLEX_RETURN_IF_ERROR(back);
  DUPLEX_RETURN_IF_ERROR(p.WaitReady(kReadyTimeoutMs));
  return trial;
}

}  // namespace

std::unique_ptr<HostsSystem> MakeRedisHostsSystem(const LabOptions& options) {
  return std::make_unique<RedisHostsSystem>(options);
}

}  // namespace duplex::bench
