// Workloads against a RedisPeer, mirroring what chaos/ drives through duplex so that the two
// sides of a benchmark run the same thing: RunRedisLoad is RunLoad (chaos/load_generator.h)
// speaking RESP, RedisWriter is the failover half of Workload (chaos/workload.h), and
// MeasureLagMs probes replication lag. Times are SteadyClock µs (common/clock.h), the clock
// of duplex::NowUs. RunRedisLoad and MeasureLagMs block the calling thread; RedisWriter owns
// its threads (Start/Stop from one thread, the rest from any).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "chaos/load_generator.h"
#include "common/status.h"
#include "replica/tls.h"

namespace duplex::bench {

struct RedisLoadOptions : LoadShape {
  int port = 6379;  // the primary, on 127.0.0.1
  // Each request is SET then WAIT 1 0 in one write, OK once WAIT says a replica has it (the
  // counterpart of duplex's sync mode); latency runs to the WAIT reply.
  bool wait_replica = false;
  // TLS on every connection (RedisPeerOptions::tls_dir): handshakes done before the clock
  // starts, as a client's connection pool would. Null: plain TCP.
  std::shared_ptr<TlsContext> tls = nullptr;
};

// One thread drives every connection with poll(), as RunLoad does. Fails only when the
// connections cannot be opened; what happens later is counted in the result.
StatusOr<LoadResult> RunRedisLoad(const RedisLoadOptions& options);

struct RedisWriterOptions {
  std::vector<int> sentinel_ports;  // where to ask for the primary
  int clients = 3;
  int attempt_timeout_ms = 50;  // also bounds each Sentinel query
  int retry_pause_ms = 5;       // after a failed attempt, before asking the Sentinels again
  // 0: ask the Sentinels only after a failed attempt, as redis-py does. > 0: also this often
  // while writes succeed, as clients that follow Sentinel's +switch-master do (Jedis): after a
  // planned failover the old primary goes on acknowledging writes until Sentinel demotes it.
  int primary_check_ms = 0;
  std::string key_prefix = "w";
  int ops_per_client = 0;                     // 0: until Stop()
  std::shared_ptr<TlsContext> tls = nullptr;  // every connection TLS (servers and Sentinels)
};

// An acknowledged write: SET RedisWriter::Key(prefix, client, n) RedisWriter::Value(n). Kept
// small (no strings): a writer acknowledges tens of thousands of writes a second.
struct RedisAck {
  int client = 0;
  uint64_t n = 0;
  int64_t invoke_us = 0;
  int64_t complete_us = 0;
  int port = 0;  // the node that acknowledged the write
  int attempts = 0;
};

// Client threads writing unique keys (SET <prefix><client>-<n> v<n>). A failed attempt
// (error reply such as READONLY, timeout, refused connection) sends the client to the
// Sentinels for the primary (SentinelView::FirstHealthyPrimaryPort, as redis-py) and the same
// SET again — SET of the same value is idempotent — until it is acknowledged or the writer
// stops. Every acknowledged write is recorded.
class RedisWriter {
 public:
  explicit RedisWriter(RedisWriterOptions options);
  ~RedisWriter();
  RedisWriter(const RedisWriter&) = delete;
  RedisWriter& operator=(const RedisWriter&) = delete;

  void Start();
  // Bounded: a client finishes its current attempt (attempt_timeout_ms, plus one query of
  // each Sentinel); a write not acknowledged by then is dropped, not recorded.
  void Stop();

  uint64_t acked() const { return acked_.load(); }
  uint64_t failed_attempts() const { return failed_attempts_.load(); }
  // Waits until at least n writes were acknowledged in total (bounded).
  Status WaitAcked(uint64_t n, int timeout_ms) const;
  std::vector<RedisAck> Acks() const;
  // The first acknowledgement completed after t_us by a node other than not_port (-1: any),
  // or -1.
  int64_t FirstAckAfter(int64_t t_us, int not_port = -1) const;
  // The longest interval inside [from_us, to_us] without an acknowledgement completing: the
  // unavailability a client saw.
  int64_t LongestGapUs(int64_t from_us, int64_t to_us) const;
  // Reads every acknowledged key back from the node on primary_port (pipelined GETs) and
  // counts those missing or holding another value; only writes acknowledged after
  // acked_after_us when given (e.g. those after a failover completed).
  StatusOr<uint64_t> CountLost(int primary_port, int64_t acked_after_us = 0) const;
  // LongestGapUs over the writes still on primary_port: an acknowledgement that was lost
  // (say, by an old primary still serving after a switchover) served nobody.
  StatusOr<int64_t> LongestDurableGapUs(int primary_port, int64_t from_us, int64_t to_us) const;

  static std::string Key(const std::string& prefix, int client, uint64_t n);
  static std::string Value(uint64_t n);

 private:
  void RunClient(int index);
  // For each ack, whether primary_port holds its value now.
  StatusOr<std::vector<bool>> ReadBack(int primary_port, const std::vector<RedisAck>& acks) const;

  RedisWriterOptions options_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> acked_{0};
  std::atomic<uint64_t> failed_attempts_{0};
  std::vector<std::thread> threads_;
  mutable std::mutex mu_;
  std::vector<RedisAck> acks_;
};

// Replication lag, `samples` times `interval_ms` apart: SET of a fresh value on the primary,
// then GET on the replica until it shows that value (bounded); the ms from the SET's reply to
// the GET that showed it. An upper bound: the last GET's round trip is included. Meant to run
// on its own thread while a load runs.
StatusOr<std::vector<double>> MeasureLagMs(int primary_port, int replica_port, int samples,
                                           int interval_ms,
                                           std::shared_ptr<TlsContext> tls = nullptr);

}  // namespace duplex::bench
