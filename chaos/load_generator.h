// LoadGenerator: many client connections driven from one thread, each with a
// bounded number of requests in flight (1 = unpipelined), the way
// redis-benchmark drives Redis. For throughput and latency figures; it speaks
// the same protocol as Client (client id, request seq, TLS and AUTH when asked) but does
// not fail over.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace duplex {

// What a load is, whatever it goes to (RunLoad here; RunRedisLoad in bench/).
struct LoadShape {
  int connections = 50;
  int pipeline = 1;  // requests in flight per connection
  double seconds = 3.0;
  std::string key_prefix = "load";
  uint64_t key_space = 1000000;
  int key_bytes = 0;  // > 0: the key number is zero-padded so that every key has this size
  int value_bytes = 32;
  int timeout_ms = 2000;   // a request unanswered this long counts as a timeout
  uint64_t total_ops = 0;  // > 0: stop after this many answers, keys 0..total_ops-1 in order
};

struct LoadOptions : LoadShape {
  std::string endpoint;  // the active
  // TLS on the client port (security.tls.client_port): the CA that signed the replicas'
  // certificate; "" = plain TCP. Every connection completes its handshake before the clock
  // starts, as a client's connection pool would.
  std::string tls_ca_file;
  std::string password;  // sent in an Auth frame first on every connection when set
};

struct LoadResult {
  uint64_t ok = 0;
  uint64_t errors = 0;  // answered, but not OK (e.g. not active)
  uint64_t timeouts = 0;
  double seconds = 0;
  std::vector<double> latency_ms;  // one per OK answer
  std::string first_error;
};

StatusOr<LoadResult> RunLoad(const LoadOptions& options);
// The name of key number n: the prefix, then n, zero-padded to key_bytes in all (when
// they fit): KeyName("load", 42, 16) == "load000000000042".
std::string KeyName(const std::string& prefix, uint64_t n, int key_bytes);

}  // namespace duplex
