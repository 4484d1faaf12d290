// The few ZeroMQ helpers the daemons share: owned context and sockets with duplex's
// options, and multipart send/receive without blocking. Thin; thread-compatible
// (a socket belongs to one thread, as ZeroMQ requires).
#pragma once

#include <zmq.h>

#include <string>
#include <string_view>
#include <vector>

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

// A CURVE key pair, each key in Z85 (40 characters), from zmq_curve_keypair.
struct CurveKeyPair {
  std::string public_key;
  std::string secret_key;
};
CurveKeyPair NewCurveKeyPair();

// One received message: its parts (a ROUTER prepends the sender's routing id); empty
// when nothing is waiting.
std::vector<std::string> RecvParts(void* socket);
// Sends [route,] payload without blocking; a full queue drops the message.
void SendParts(void* socket, const std::string* route, const std::string& payload);
// Sends every part as one message, without blocking.
void SendMultipart(void* socket, const std::vector<std::string_view>& parts);

}  // namespace duplex
