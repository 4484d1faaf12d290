// FaultProxy: a TCP proxy on 127.0.0.1 for one ZeroMQ link between real processes. It parses
// ZMTP 3.x framing and injects faults per whole message (drop, delay, duplicate, reorder, corrupt,
// blackhole) or cuts the link (sever); ZMTP commands always pass, untouched and undelayed.
// Mechanisms NULL, PLAIN and CURVE (see "CURVE" below); any other peer is closed.
// Owned by the chaos harness or a test; one background thread each; every method is thread-safe.
//
// CURVE (libzmq 4.3.4, checked in curve_mechanism_base.cpp and stream_engine_base.cpp): the
// handshake (HELLO, WELCOME, INITIATE, READY or ERROR) travels as ZMTP commands, which pass
// untouched, so the proxy needs no key and the ZAP handler decides as without it. After it, every
// message *part* is one ordinary frame without the MORE flag whose body is "\x07MESSAGE", an
// 8-byte nonce and a box holding the part's flags and bytes; the proxy sees one message per part.
// What each fault then does:
// - drop, delay, blackhole and sever work as on NULL: the receiver takes any nonce above the
//   last one it opened, so a gap left by a drop is accepted and the session stays up.
// - corrupt: the box (or its header) no longer opens; the receiver drops the connection
//   (EPROTO), the connecting peer reconnects with a new handshake, and what was in flight on
//   that connection is lost. The corrupted bytes themselves never reach the application.
// - duplicate: the first copy is delivered; the second repeats a nonce and the receiver drops
//   the connection as above.
// - reorder: the later message is delivered; the held one comes with a lower nonce and the
//   receiver drops the connection, so the held message is lost.
// So under CURVE, corrupt, duplicate and reorder all end as loss plus a reconnection, which the
// peers must survive as they survive sever. Two further differences: a message of several parts
// meets the dice part by part (a dropped part leaves the receiver a message short of it, or joined
// to the next message's parts), and ZMTP heartbeats (PING/PONG) are sealed like messages, so a
// blackhole drops them too (duplex sets no ZMTP heartbeat; a peer that does will time out).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "common/status.h"

namespace duplex::chaos {

// kToTarget: from the connecting client to the target; kFromTarget: the answers.
enum class Direction { kToTarget, kFromTarget, kBoth };

// Faults for one direction. Probabilities are per message, in [0, 1].
struct LinkFaults {
  double drop = 0;
  double duplicate = 0;  // the message is sent twice, back to back
  double reorder = 0;    // the message is held and sent right after the next one
  double corrupt = 0;    // one byte of one frame body is flipped; frame headers are never touched
  // Under CURVE, duplicate, reorder and corrupt make the receiver drop the connection (see top).
  int delay_ms = 0;  // every message waits delay_ms + uniform [0, jitter_ms]; order is kept
  int jitter_ms = 0;
  // A partition that keeps the TCP/ZMTP session up: every message is dropped, but commands
  // (READY, PING, PONG) still pass, so neither peer sees a disconnect or a heartbeat timeout.
  bool blackhole = false;
};

// For one direction. Every message read is either forwarded or dropped; a duplicated message
// counts once in forwarded and once in duplicated, so the receiver sees forwarded + duplicated.
struct LinkCounters {
  uint64_t forwarded = 0;
  uint64_t dropped = 0;  // by drop or blackhole
  uint64_t delayed = 0;  // forwarded with a delay above zero
  uint64_t duplicated = 0;
  uint64_t reordered = 0;  // held back behind the next message
  uint64_t corrupted = 0;
};

struct ProxyCounters {
  LinkCounters to_target;
  LinkCounters from_target;
  uint64_t connections = 0;          // client connections accepted and paired with the target
  uint64_t severed_connections = 0;  // closed by Sever(true), or refused while severed
  // Reset on an error (not ZMTP 3.x, too large, target unreachable, a peer's reset) or refused
  // above connections_max.
  uint64_t failed_connections = 0;
  uint64_t curve_connections = 0;  // connections whose greeting named CURVE (see the top)
  // ...named NULL or PLAIN. A connection closed before its greeting arrived (a peer killed,
  // a partition) is neither.
  uint64_t plain_connections = 0;
};

struct ProxyOptions {
  int listen_port = 0;  // on 127.0.0.1; 0 picks a free port (see FaultProxy::port())
  int target_port = 0;  // 127.0.0.1:target_port
  // Every random choice comes from this seed. Each connection draws from its own generator
  // (seeded by seed, accept order and direction) and draws the same dice for every message, so
  // the same messages on the same connection meet the same faults whatever else runs.
  uint64_t seed = 1;
  int connections_max = 64;                      // more are accepted, then closed
  int connect_timeout_ms = 1000;                 // to the target, per accepted connection
  int reorder_hold_max_ms = 100;                 // a held message waits no longer for a next one
  size_t message_bytes_max = size_t{256} << 20;  // a larger message closes the connection
  size_t buffered_bytes_max = size_t{16} << 20;  // per direction; above it, reading pauses
};

// An interface, so a harness can swap in an in-process fake; destroying a proxy stops it.
class FaultProxy {
 public:
  // Listens at once; fails with a message naming the address ("fault proxy: cannot listen on
  // 127.0.0.1:7400: Address already in use").
  static StatusOr<std::unique_ptr<FaultProxy>> Start(const ProxyOptions& options);

  virtual ~FaultProxy() = default;

  virtual int port() const = 0;
  // Replaces the faults of one direction (kBoth: of both). Applies to messages read from now on;
  // messages already held or delayed keep their fate.
  virtual void Set(Direction direction, const LinkFaults& faults) = 0;
  // A partition that the peers notice: while set, open connections are reset and new ones are
  // accepted and reset at once. ZeroMQ peers keep reconnecting and get through once it is lifted.
  virtual void Sever(bool severed) = 0;
  // No faults in either direction and not severed.
  virtual void Heal() = 0;
  virtual ProxyCounters counters() const = 0;
  // Closes the listening socket and every connection, and joins the thread. Bounded; idempotent.
  virtual void Stop() = 0;
};

}  // namespace duplex::chaos
