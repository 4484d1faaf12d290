// The few ZeroMQ helpers the daemons share: owned context and sockets with duplex's
// options, and multipart send/receive without blocking. Thin; thread-compatible
// (a socket belongs to one thread, as ZeroMQ requires).
#pragma once

#include <zmq.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace duplex {

// The context outlives every socket (declare it first): zmq_ctx_term waits for all
// sockets to close.
struct ZContext {
  ZContext() : ctx(zmq_ctx_new()) {}
  ~ZContext() { zmq_ctx_term(ctx); }
  ZContext(const ZContext&) = delete;
  ZContext& operator=(const ZContext&) = delete;
  void* ctx;
};

// A socket with the options every duplex socket uses: no linger, bounded queues, and
// frames above frame_bytes_max dropped by ZeroMQ (the peer is disconnected).
struct ZSocket {
  ZSocket(void* ctx, int type, size_t frame_bytes_max);
  ~ZSocket() { zmq_close(s); }
  ZSocket(const ZSocket&) = delete;
  ZSocket& operator=(const ZSocket&) = delete;
  void* s;
};

// zmq_bind and zmq_connect for "tcp://host:port" with a host name or an IPv6 address too:
// the host is resolved first (ResolvedZmqEndpoint in common/net.h: ZeroMQ binds only to
// addresses, and would resolve a connect's name its own way), ZMQ_IPV6 is set for an IPv6
// one, and `source` (an IPv4 address or "") is where a connect leaves from
// (WithSourceAddress). Errors name the endpoint and ZeroMQ's reason.
Status ZmqBind(void* socket, const std::string& endpoint);
Status ZmqConnect(void* socket, const std::string& endpoint, const std::string& source = "");

// The default of limits.zmq_parts_max (no duplex message has more than 3 parts), and the
// highest value it may take (RecvParts holds that many parts on its stack).
inline constexpr size_t kZmqPartsMaxDefault = 8;
inline constexpr size_t kZmqPartsMaxLimit = 64;
static_assert(kZmqPartsMaxDefault >= 3 && kZmqPartsMaxDefault <= kZmqPartsMaxLimit);

// A CURVE key pair, each key in Z85 (40 characters), from zmq_curve_keypair.
struct CurveKeyPair {
  std::string public_key;
  std::string secret_key;
};
CurveKeyPair NewCurveKeyPair();

// One received message: its parts (a ROUTER prepends the sender's routing id); empty
// when nothing is waiting. With user_id, the member its sender authenticated as (the ZAP
// User-Id of a CURVE link, curve_auth.h; "" over a plain one or when nothing was received).
// A message of more than parts_max parts is refused before its parts are copied: the rest
// of it is drained into one reused zmq_msg_t, *refused (when given) counts it, and the next
// message is read instead (at most 64 refused ones per call, then empty: the caller polls
// again). parts_max: 1..kZmqPartsMaxLimit.
std::vector<std::string> RecvParts(void* socket, std::string* user_id = nullptr,
                                   size_t parts_max = kZmqPartsMaxDefault,
                                   uint64_t* refused = nullptr);
// Sends [route,] payload without blocking; a full queue drops the message.
void SendParts(void* socket, const std::string* route, const std::string& payload);
// Sends every part as one message, without blocking.
void SendMultipart(void* socket, const std::vector<std::string_view>& parts);

}  // namespace duplex
