// `duplex bench`: runs the benchmarks on duplex and, with a peer, on the peer too —
// trials alternate between the two and repeat, so that both see the same machine — and
// prints every figure as min / median / max and as the ratio duplex/peer.
#pragma once

#include <cstdint>
#include <string>

namespace duplex::bench {

struct SuiteOptions {
  // all | replication | failover | switchover | memory | upgrade | coordinator
  std::string what = "all";
  std::string peer;           // "" or "redis"
  int runs = 0;               // repetitions per figure; 0: 3 loads, 10 failovers, 5 switchovers
  double seconds = 2.0;       // per load measurement
  std::string only;           // replication: a comma-separated list of cases ("sync_50c,async_1c")
  uint64_t keys = 1000000;    // memory and upgrade: keys loaded first
  double steady_seconds = 8;  // upgrade: the same load without a campaign, for comparison
  std::string build_dir;      // where duplex, the kv binaries and packages are
  std::string dir;            // scratch (default <build_dir>/bench)
  bool json = false;          // one JSON object on stdout instead of the table
  std::string json_path;      // ...or into this file (the table still prints)
  std::string report_path;    // HTML report
  std::string command;        // how it was invoked, for the report
  // failover only: 2 runs it on a lab of hosts (bench/hosts_system.h) instead of one host.
  int hosts = 0;
  // --hosts 2 and coordinator: the lab's hosts are 127.0.<this + i>.1
  int lab_first_host = 1;
  int first_port = 0;  // --hosts 2: ports from here on; 0 = free ports picked
  int trials = 5;      // coordinator: leader failovers (then one combined failure)
  // replication: duplex with CURVE on its ZeroMQ links and TLS on its client and HTTP ports,
  // and as the peer the same pair without (otherwise duplex runs plain, as on loopback without
  // a security: section). With a Redis peer, Redis with TLS against Redis without as well, its
  // trials interleaved with duplex's ("redis_tls" in the JSON).
  bool secure = false;
  // replication and all: one extra sync 50-client load on duplex (not counted in the figures)
  // with perf on both replicas; the active's flame graph is written here (SVG), the shares by
  // component go into the JSON ("profile") and the report, which embeds the graph.
  std::string flame_path;
};

// The process exit code: 0 when every trial ran, 1 when one failed, 2 for bad options.
int RunSuite(const SuiteOptions& options);

}  // namespace duplex::bench
