// The Redis side of the benchmarks: a RedisPeer (primary, replica, three Sentinels) driven
// by the RESP counterparts of duplex's load generator and recording writers.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "bench/figures.h"
#include "bench/redis_load.h"
#include "bench/redis_peer.h"
#include "bench/system.h"
#include "common/clock.h"
#include "replica/tls.h"

namespace duplex::bench {
namespace {

std::string RedisVersion() {
  std::string out;
  if (FILE* p = ::popen("redis-server --version 2>/dev/null", "r")) {
    char buf[256];
    while (std::fgets(buf, sizeof(buf), p) != nullptr) out += buf;
    ::pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out.empty() ? "redis-server (version unknown)" : out;
}

class RedisSystem final : public System {
 public:
  RedisSystem(SystemOptions options, bool fsync_every_write)
      : options_(std::move(options)), fsync_every_write_(fsync_every_write) {}
  ~RedisSystem() override { Stop(); }

  std::string Name() const override {
    return std::string(fsync_every_write_ ? "redis-fsync" : "redis") + (options_.tls ? "-tls" : "");
  }
  std::string Describe() const override {
    std::string persistence = fsync_every_write_
                                  ? "an AOF on both servers, fsynced before each event-loop "
                                    "turn's replies (appendonly yes, appendfsync always), no RDB"
                                  : "no persistence (no RDB, no AOF)";
    return RedisVersion() +
           ": a primary and one replica, three Sentinels (quorum 2, down-after-milliseconds "
           "1000, failover-timeout 2000: below 1000 ms Sentinel failed over back and forth "
           "under load, losing writes, as it reconnects to a server at most once a second); " +
           persistence +
           (options_.tls ? "; TLS on every port, replication and Sentinel links included "
                           "(port 0, tls-port, tls-replication yes, tls-auth-clients no), "
                           "clients on TLS 1.3"
                         : "; plain TCP") +
           "; clients follow Sentinel (asked after a failure and "
           "every 100 ms); standby lag measured by a probe (SET on the primary, GET on the "
           "replica until it shows)";
  }

  StatusOr<LoadTrial> Load(const LoadSpec& spec) override {
    auto peer = Peer();
    if (!peer.ok()) return peer.status();
    DUPLEX_RETURN_IF_ERROR((*peer)->WaitReady(30000));
    auto primary = (*peer)->PrimaryPort();
    if (!primary.ok()) return primary.status();
    int replica = OtherPort(**peer, *primary);
    RedisLoadOptions lo{ShapeOf(spec, "l" + std::to_string(++trials_) + "-"), *primary,
                        /*wait_replica=*/spec.sync, (*peer)->tls()};
    // The lag probe runs beside the load, sampling every 50 ms.
    int samples = std::max(1, static_cast<int>(spec.seconds * 1000 / 50) - 2);
    StatusOr<std::vector<double>> lag = std::vector<double>{};
    std::vector<pid_t> pids = (*peer)->Pids();
    double cpu_before = CpuSeconds(pids);
    std::thread probe([&] { lag = MeasureLagMs(*primary, replica, samples, 50, (*peer)->tls()); });
    auto result = RunRedisLoad(lo);
    probe.join();
    if (!result.ok()) return result.status();
    LoadTrial trial{std::move(result).value()};
    trial.server_cpu_s = CpuSeconds(pids) - cpu_before;
    if (lag.ok()) {
      trial.lag_ms_p50 = Quantile(*lag, 0.50);
      trial.lag_ms_p99 = Quantile(*lag, 0.99);
    }
    return trial;
  }

  // The peer the other trials use, waited ready (caught up, Sentinels agreeing) and settled.
  StatusOr<IdleTrial> Idle(double settle_seconds, double seconds) override {
    auto peer = Peer();
    if (!peer.ok()) return peer.status();
    DUPLEX_RETURN_IF_ERROR((*peer)->WaitReady(30000));
    SleepMs(static_cast<int>(settle_seconds * 1000));
    std::vector<pid_t> servers, sentinels;
    for (int port : (*peer)->ServerPorts()) servers.push_back((*peer)->PidOf(port));
    for (int port : (*peer)->SentinelPorts()) sentinels.push_back((*peer)->PidOf(port));
    std::vector<double> percent = CpuPercentOver({servers, sentinels}, seconds);
    return IdleTrial{percent[0], percent[1]};
  }

  StatusOr<FailoverTrial> Failover(int signal) override {
    auto peer = Peer();
    if (!peer.ok()) return peer.status();
    RedisPeer& p = **peer;
    RedisWriter writers(Writers(p, "f"));
    auto old = StartWriting(p, writers);
    if (!old.ok()) return old.status();
    int64_t t0 = NowUs();
    auto pid = p.SignalPrimary(signal);
    if (!pid.ok()) {
      writers.Stop();
      return pid.status();
    }
    FailoverTrial trial;
    int64_t first = -1;
    for (int i = 0; i < 15000 && first < 0; ++i) {  // bounded: 30 s
      SleepMs(2);
      first = writers.FirstAckAfter(t0, *old);
    }
    if (first > 0) trial.first_ack_ms = (first - t0) / 1000.0;
    Status back = signal == SIGSTOP ? p.Resume(*pid) : p.Restart(*old);
    (void)writers.WaitAcked(writers.acked() + 50, 10000);
    writers.Stop();
    auto lost = Lost(p, writers);
    if (!lost.ok()) return lost.status();
    trial.lost = *lost;
    DUPLEX_RETURN_IF_ERROR(back);
    DUPLEX_RETURN_IF_ERROR(p.WaitReady(60000));
    return trial;
  }

  StatusOr<SwitchoverTrial> Switchover() override {
    auto peer = Peer();
    if (!peer.ok()) return peer.status();
    RedisPeer& p = **peer;
    RedisWriter writers(Writers(p, "s"));
    auto old = StartWriting(p, writers);
    if (!old.ok()) return old.status();
    int64_t t0 = NowUs();
    Status started = p.Failover();
    if (!started.ok()) {
      writers.Stop();
      return started;
    }
    // Done when a write is acknowledged by the other node, then 100 more.
    for (int i = 0; i < 15000 && writers.FirstAckAfter(t0, *old) < 0; ++i) SleepMs(2);
    (void)writers.WaitAcked(writers.acked() + 100, 10000);
    int64_t t1 = NowUs();
    writers.Stop();
    auto primary = p.PrimaryPort();
    if (!primary.ok()) return primary.status();
    SwitchoverTrial trial;
    // Sentinel demotes the old primary seconds after the switch; what it acknowledged
    // meanwhile is lost, so only writes that survived count as service.
    auto gap = writers.LongestDurableGapUs(*primary, t0, t1);
    if (!gap.ok()) return gap.status();
    trial.unavailability_ms = *gap / 1000.0;
    auto lost = writers.CountLost(*primary);
    if (!lost.ok()) return lost.status();
    trial.lost = *lost;
    DUPLEX_RETURN_IF_ERROR(p.WaitReady(60000));
    return trial;
  }

  StatusOr<MemoryTrial> Memory(uint64_t keys) override {
    // A pair of its own, empty, like duplex's.
    auto made = PeerOptions();
    if (!made.ok()) return made.status();
    RedisPeerOptions po = *made;
    po.dir = options_.scratch + "/memory";
    auto peer = RedisPeer::Start(po);
    if (!peer.ok()) return peer.status();
    auto primary = (*peer)->PrimaryPort();
    if (!primary.ok()) return primary.status();
    RedisLoadOptions lo{BulkLoadShape(keys), *primary, /*wait_replica=*/false, (*peer)->tls()};
    auto loaded = RunRedisLoad(lo);
    if (!loaded.ok()) return loaded.status();
    DUPLEX_RETURN_IF_ERROR(CheckBulkLoaded(keys, *loaded));
    DUPLEX_RETURN_IF_ERROR((*peer)->WaitReady(60000));  // the replica caught up
    SleepMs(1000);
    MemoryTrial trial{keys, loaded->seconds, 0, 0};
    auto active = (*peer)->RssBytes(true);
    auto standby = (*peer)->RssBytes(false);
    if (!active.ok()) return active.status();
    if (!standby.ok()) return standby.status();
    trial.active_mb = static_cast<double>(*active) / (1 << 20);
    trial.standby_mb = static_cast<double>(*standby) / (1 << 20);
    (*peer)->Stop();
    return trial;
  }

  void Stop() override {
    if (peer_) peer_->Stop();
    peer_.reset();
  }

 private:
  StatusOr<RedisPeer*> Peer() {
    if (peer_) return peer_.get();
    auto made = PeerOptions();
    if (!made.ok()) return made.status();
    RedisPeerOptions po = *made;
    po.dir = options_.scratch + "/pair";
    auto peer = RedisPeer::Start(po);
    if (!peer.ok()) return peer.status();
    peer_ = std::move(peer).value();
    return peer_.get();
  }

  // With TLS, a CA and a server certificate for 127.0.0.1 (the same files duplex's side uses:
  // WriteTlsFiles), written on first use.
  StatusOr<RedisPeerOptions> PeerOptions() {
    RedisPeerOptions po;
    po.appendonly = fsync_every_write_;
    po.appendfsync = "always";
    if (options_.tls) {
      po.tls_dir = std::filesystem::absolute(options_.scratch + "/tls").string();
      if (!tls_written_) {
        std::error_code ec;
        std::filesystem::remove_all(po.tls_dir, ec);
        auto files = WriteTlsFiles(po.tls_dir, {});
        if (!files.ok()) return files.status();
        tls_written_ = true;
      }
    }
    return po;
  }

  static int OtherPort(const RedisPeer& p, int port) {
    auto ports = p.ServerPorts();
    return ports[0] == port ? ports[1] : ports[0];
  }

  // Starts `writers` once the peer is ready and waits for 200 acknowledged writes; the
  // port of the primary they write to.
  StatusOr<int> StartWriting(RedisPeer& p, RedisWriter& writers) {
    DUPLEX_RETURN_IF_ERROR(p.WaitReady(60000));
    writers.Start();
    Status warm = writers.WaitAcked(200, 10000);
    auto primary = p.PrimaryPort();
    if (warm.ok() && primary.ok()) return *primary;
    writers.Stop();
    return !warm.ok() ? warm : primary.status();
  }

  RedisWriterOptions Writers(const RedisPeer& p, const std::string& kind) {
    RedisWriterOptions w;
    w.sentinel_ports = p.SentinelPorts();
    w.clients = 3;
    w.attempt_timeout_ms = 50;
    // A Sentinel-aware client also learns of a planned switchover, which raises no error:
    // the old primary keeps accepting writes for seconds before Sentinel demotes it.
    w.primary_check_ms = 100;
    w.key_prefix = kind + std::to_string(++trials_) + "-";
    w.tls = p.tls();
    return w;
  }

  // Acknowledged writes missing from the primary the Sentinels name now.
  static StatusOr<uint64_t> Lost(RedisPeer& p, const RedisWriter& writers) {
    auto primary = p.PrimaryPort();
    if (!primary.ok()) return primary.status();
    return writers.CountLost(*primary);
  }

  SystemOptions options_;
  bool fsync_every_write_;
  std::unique_ptr<RedisPeer> peer_;
  int trials_ = 0;
  bool tls_written_ = false;
};

}  // namespace

std::unique_ptr<System> MakeRedisSystem(const SystemOptions& options, bool fsync_every_write) {
  return std::make_unique<RedisSystem>(options, fsync_every_write);
}

}  // namespace duplex::bench
