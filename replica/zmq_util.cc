#include "replica/zmq_util.h"

#include "common/assert.h"
#include "common/net.h"

namespace duplex {

ZSocket::ZSocket(void* ctx, int type, size_t frame_bytes_max) : s(zmq_socket(ctx, type)) {
  int zero = 0, hwm = 100000;
  int64_t msg_max = static_cast<int64_t>(frame_bytes_max);
  zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
  zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
  zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
  zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &msg_max, sizeof(msg_max));
}

namespace {

StatusOr<std::string> Resolved(void* socket, const std::string& endpoint) {
  bool ipv6 = false;
  StatusOr<std::string> resolved = ResolvedZmqEndpoint(endpoint, &ipv6);
  if (resolved.ok() && ipv6) {
    int on = 1;
    zmq_setsockopt(socket, ZMQ_IPV6, &on, sizeof(on));
  }
  return resolved;
}

}  // namespace

Status ZmqBind(void* socket, const std::string& endpoint) {
  StatusOr<std::string> resolved = Resolved(socket, endpoint);
  if (!resolved.ok()) return Unavailable("bind " + resolved.status().message());
  if (zmq_bind(socket, resolved->c_str()) != 0) {
    return Unavailable("bind " + endpoint + (*resolved == endpoint ? "" : " (" + *resolved + ")") +
                       ": " + zmq_strerror(zmq_errno()));
  }
  return Status::Ok();
}

Status ZmqConnect(void* socket, const std::string& endpoint, const std::string& source) {
  StatusOr<std::string> resolved = Resolved(socket, endpoint);
  if (!resolved.ok()) return Unavailable("connect " + resolved.status().message());
  const std::string from = WithSourceAddress(*resolved, source);
  if (zmq_connect(socket, from.c_str()) != 0) {
    return Unavailable("connect " + from + ": " + zmq_strerror(zmq_errno()));
  }
  return Status::Ok();
}

CurveKeyPair NewCurveKeyPair() {
  char public_key[41] = {}, secret_key[41] = {};
  const int rc = zmq_curve_keypair(public_key, secret_key);
  DUPLEX_ASSERT(rc == 0, "libzmq is built with CURVE (libsodium)", zmq_strerror(zmq_errno()));
  return CurveKeyPair{public_key, secret_key};
}

std::vector<std::string> RecvParts(void* socket, std::string* user_id, size_t parts_max,
                                   uint64_t* refused) {
  DUPLEX_ASSERT(parts_max >= 1 && parts_max <= kZmqPartsMaxLimit, "a parts bound in range",
                parts_max);
  if (user_id != nullptr) user_id->clear();
  // The parts stay in ZeroMQ's own buffers until the message is known to fit: a refused one
  // is never copied, and what follows its first parts_max + 1 parts is received into one
  // reused msg and dropped.
  zmq_msg_t held[kZmqPartsMaxLimit + 1];
  constexpr int kRefusedPerCallMax = 64;  // a flood of them is drained a bounded number a call
  for (int refusals = 0; refusals < kRefusedPerCallMax; ++refusals) {
    size_t n = 0;
    bool more = true;
    for (; more && n <= parts_max; ++n) {
      zmq_msg_init(&held[n]);
      if (zmq_msg_recv(&held[n], socket, ZMQ_DONTWAIT) < 0) {
        // Nothing waiting (a message arrives whole, so this is its first part).
        for (size_t i = 0; i <= n; ++i) zmq_msg_close(&held[i]);
        return {};
      }
      more = zmq_msg_more(&held[n]) != 0;
    }
    if (n <= parts_max) {
      DUPLEX_ASSERT(!more, "a message within the bound was read whole", n, parts_max);
      // The last part's: a ROUTER's first part, the routing id, is its own and has no metadata.
      if (user_id != nullptr) {
        const char* user = zmq_msg_gets(&held[n - 1], "User-Id");
        user_id->assign(user != nullptr ? user : "");
      }
      std::vector<std::string> parts;
      parts.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        parts.emplace_back(static_cast<const char*>(zmq_msg_data(&held[i])),
                           zmq_msg_size(&held[i]));
        zmq_msg_close(&held[i]);
      }
      return parts;
    }
    zmq_msg_t& drain = held[parts_max];
    while (more && zmq_msg_recv(&drain, socket, ZMQ_DONTWAIT) >= 0) more = zmq_msg_more(&drain);
    for (size_t i = 0; i < n; ++i) zmq_msg_close(&held[i]);
    if (refused != nullptr) ++*refused;
  }
  return {};
}

void SendParts(void* socket, const std::string* route, const std::string& payload) {
  if (route != nullptr) zmq_send(socket, route->data(), route->size(), ZMQ_SNDMORE | ZMQ_DONTWAIT);
  zmq_send(socket, payload.data(), payload.size(), ZMQ_DONTWAIT);
}

void SendMultipart(void* socket, const std::vector<std::string_view>& parts) {
  for (size_t i = 0; i < parts.size(); ++i) {
    const int more = i + 1 < parts.size() ? ZMQ_SNDMORE : 0;
    zmq_send(socket, parts[i].data(), parts[i].size(), more | ZMQ_DONTWAIT);
  }
}

}  // namespace duplex
