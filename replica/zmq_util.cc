#include "replica/zmq_util.h"

#include "common/assert.h"

namespace duplex {

ZSocket::ZSocket(void* ctx, int type, size_t frame_bytes_max) : s(zmq_socket(ctx, type)) {
  int zero = 0, hwm = 100000;
  int64_t msg_max = static_cast<int64_t>(frame_bytes_max);
  zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
  zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
  zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
  zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &msg_max, sizeof(msg_max));
}

CurveKeyPair NewCurveKeyPair() {
  char public_key[41] = {}, secret_key[41] = {};
  const int rc = zmq_curve_keypair(public_key, secret_key);
  DUPLEX_ASSERT(rc == 0, "libzmq is built with CURVE (libsodium)", zmq_strerror(zmq_errno()));
  return CurveKeyPair{public_key, secret_key};
}

std::vector<std::string> RecvParts(void* socket) {
  std::vector<std::string> parts;
  int more = 1;
  while (more) {
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, socket, ZMQ_DONTWAIT) < 0) {
      zmq_msg_close(&msg);
      break;
    }
    parts.emplace_back(static_cast<const char*>(zmq_msg_data(&msg)), zmq_msg_size(&msg));
    more = zmq_msg_more(&msg);
    zmq_msg_close(&msg);
  }
  return parts;
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
